using System.Text.Json;

namespace Tessera.Formats.Templates;

/// <summary>One message of a conversation as chat templates see it (the OpenAI / Hugging Face shape): a role, text or
/// a list of parts as content, tool calls of an assistant turn, the call id and name of a tool's answer. Fields left null
/// are absent from the message the template sees (<c>message.tool_calls is defined</c> is false).</summary>
public sealed record ChatMessage
{
    /// <summary>A message with text content.</summary>
    public ChatMessage(string role, string? content)
    {
        ArgumentNullException.ThrowIfNull(role);
        Role = role;
        Content = content;
    }

    /// <summary>system, user, assistant, tool (or whatever the template knows).</summary>
    public string Role { get; init; }

    /// <summary>Text content; ignored when <see cref="Parts"/> is set.</summary>
    public string? Content { get; init; }

    /// <summary>Content as a list of parts (text, image), for templates that take multimodal content.</summary>
    public IReadOnlyList<ChatContentPart>? Parts { get; init; }

    /// <summary>The tool calls of an assistant message.</summary>
    public IReadOnlyList<ChatToolCall>? ToolCalls { get; init; }

    /// <summary>The id of the call a tool message answers.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>The tool's (or speaker's) name.</summary>
    public string? Name { get; init; }

    /// <summary>A system message.</summary>
    public static ChatMessage System(string text) => new("system", text);

    /// <summary>A user message.</summary>
    public static ChatMessage User(string text) => new("user", text);

    /// <summary>An assistant message.</summary>
    public static ChatMessage Assistant(string text) => new("assistant", text);

    /// <summary>The dictionary the template sees: role, content, tool_calls, tool_call_id, name (present fields only).</summary>
    internal OrderedDictionary<string, object?> ToTemplateValue()
    {
        var d = new OrderedDictionary<string, object?> { ["role"] = Role };
        if (Parts is not null) d["content"] = Parts.Select(p => (object?)p.ToTemplateValue()).ToList();
        else if (Content is not null) d["content"] = Content;
        if (ToolCalls is not null) d["tool_calls"] = ToolCalls.Select(c => (object?)c.ToTemplateValue()).ToList();
        if (ToolCallId is not null) d["tool_call_id"] = ToolCallId;
        if (Name is not null) d["name"] = Name;
        return d;
    }

    /// <summary>Reads a message from its JSON object (the shape <see cref="ToJson"/> writes and OpenAI uses).</summary>
    public static ChatMessage FromJson(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new TemplateException($"a chat message must be a JSON object, got {e.ValueKind}");
        string role = e.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()!
            : throw new TemplateException("a chat message has no \"role\" string");
        var m = new ChatMessage(role, null);
        if (e.TryGetProperty("content", out var c))
        {
            if (c.ValueKind == JsonValueKind.String) m = m with { Content = c.GetString() };
            else if (c.ValueKind == JsonValueKind.Array) m = m with { Parts = c.EnumerateArray().Select(ChatContentPart.FromJson).ToList() };
            else if (c.ValueKind != JsonValueKind.Null) throw new TemplateException($"a chat message's content must be a string, a list of parts or null, got {c.ValueKind}");
        }
        if (e.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            m = m with { ToolCalls = calls.EnumerateArray().Select(ChatToolCall.FromJson).ToList() };
        if (e.TryGetProperty("tool_call_id", out var id) && id.ValueKind == JsonValueKind.String) m = m with { ToolCallId = id.GetString() };
        if (e.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String) m = m with { Name = n.GetString() };
        return m;
    }

    /// <summary>The message as a JSON object (what <c>tessera chat</c>'s /save writes).</summary>
    public string ToJson(bool indented = false) => PyJson.Dumps(ToTemplateValue(),
        new PyJson.Options(EnsureAscii: false, indented ? "  " : null, indented ? "," : ", ", ": ", SortKeys: false));
}

/// <summary>One part of a message's content: <c>{"type": "text", "text": ...}</c> or an image
/// (<c>{"type": "image"}</c>, <c>{"type": "image_url", "image_url": {"url": ...}}</c>).</summary>
public sealed record ChatContentPart(string Type, string? Text = null, string? Url = null)
{
    internal OrderedDictionary<string, object?> ToTemplateValue()
    {
        var d = new OrderedDictionary<string, object?> { ["type"] = Type };
        if (Text is not null) d["text"] = Text;
        if (Url is not null) d["image_url"] = new OrderedDictionary<string, object?> { ["url"] = Url };
        return d;
    }

    internal static ChatContentPart FromJson(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String)
            throw new TemplateException("a content part must be an object with a \"type\" string");
        string? text = e.TryGetProperty("text", out var x) && x.ValueKind == JsonValueKind.String ? x.GetString() : null;
        string? url = e.TryGetProperty("image_url", out var i) && i.ValueKind == JsonValueKind.Object
            && i.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        return new ChatContentPart(t.GetString()!, text, url);
    }
}

/// <summary>A function call an assistant made: <c>{"id": ..., "type": "function", "function": {"name": ...,
/// "arguments": ...}}</c>; the arguments are a JSON value (an object, as Hugging Face templates expect, or a string).</summary>
public sealed record ChatToolCall(string Name, JsonElement Arguments, string? Id = null)
{
    internal OrderedDictionary<string, object?> ToTemplateValue()
    {
        var d = new OrderedDictionary<string, object?>();
        if (Id is not null) d["id"] = Id;
        d["type"] = "function";
        d["function"] = new OrderedDictionary<string, object?> { ["name"] = Name, ["arguments"] = TemplateValues.FromJson(Arguments) };
        return d;
    }

    internal static ChatToolCall FromJson(JsonElement e)
    {
        var f = e.ValueKind == JsonValueKind.Object && e.TryGetProperty("function", out var fn) ? fn : e;
        string name = f.ValueKind == JsonValueKind.Object && f.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
            ? n.GetString()! : throw new TemplateException("a tool call has no function name");
        var args = f.TryGetProperty("arguments", out var a) ? a.Clone() : JsonDocument.Parse("{}").RootElement.Clone();
        string? id = e.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
        return new ChatToolCall(name, args, id);
    }
}
