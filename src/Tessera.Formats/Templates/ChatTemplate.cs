using System.Text.Json;
using Tessera.Formats.Gguf;

namespace Tessera.Formats.Templates;

/// <summary>A model's chat template: its Jinja text from a GGUF file (<c>tokenizer.chat_template</c> or
/// <c>tokenizer.chat_template.NAME</c>) or a Hugging Face <c>tokenizer_config.json</c>, with the model's BOS and EOS
/// token texts, rendered for a conversation as Hugging Face's <c>apply_chat_template</c> does. A model without a template
/// gets ChatML, as llama-server does.</summary>
public sealed class ChatTemplate
{
    /// <summary>ChatML (<c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>), llama-server's template for models
    /// that carry none.</summary>
    public const string ChatMlSource =
        "{%- for message in messages -%}\n"
        + "{{- '<|im_start|>' + message.role + '\\n' -}}\n"
        + "{%- if message.content is string -%}{{- message.content -}}\n"
        + "{%- else -%}{%- for part in message.content | default([]) if part.type == 'text' -%}{{- part.text -}}{%- endfor -%}{%- endif -%}\n"
        + "{{- '<|im_end|>\\n' -}}\n"
        + "{%- endfor -%}\n"
        + "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

    private readonly JinjaTemplate _template;

    /// <summary>The Jinja source.</summary>
    public string Source { get; }

    /// <summary>What <c>bos_token</c> renders as (empty when the model has none).</summary>
    public string BosToken { get; }

    /// <summary>What <c>eos_token</c> renders as (empty when the model has none).</summary>
    public string EosToken { get; }

    /// <summary>True when the model had no template and this is <see cref="ChatMlSource"/>.</summary>
    public bool IsChatMlFallback { get; }

    /// <summary>The clock behind <c>strftime_now</c> and similar options of the Jinja environment.</summary>
    public JinjaRenderOptions RenderOptions { get; init; } = new();

    /// <summary>Parses <paramref name="source"/> (a <see cref="TemplateException"/> names a syntax error or an
    /// unsupported construct and its line).</summary>
    public ChatTemplate(string source, string? bosToken = null, string? eosToken = null) : this(source, bosToken, eosToken, false) { }

    private ChatTemplate(string source, string? bosToken, string? eosToken, bool chatMl)
    {
        ArgumentNullException.ThrowIfNull(source);
        Source = source;
        BosToken = bosToken ?? "";
        EosToken = eosToken ?? "";
        IsChatMlFallback = chatMl;
        _template = JinjaTemplate.Parse(source);
    }

    /// <summary>ChatML with the given special tokens.</summary>
    public static ChatTemplate ChatMl(string? bosToken = null, string? eosToken = null) => new(ChatMlSource, bosToken, eosToken, true);

    /// <summary>The template in a GGUF file's metadata: <c>tokenizer.chat_template</c>, or with <paramref name="name"/>
    /// <c>tokenizer.chat_template.NAME</c> (e.g. tool_use); ChatML when the file has none (and no name was asked for).
    /// BOS and EOS are the vocabulary's texts of <c>tokenizer.ggml.bos_token_id</c> and <c>eos_token_id</c>.</summary>
    public static ChatTemplate FromGguf(GgufFile gguf, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        string? bos = null, eos = null;
        if (gguf.TryGetArray<string>("tokenizer.ggml.tokens", out var tokens))
        {
            bos = TokenText(gguf, tokens, "tokenizer.ggml.bos_token_id");
            eos = TokenText(gguf, tokens, "tokenizer.ggml.eos_token_id");
        }
        string key = name is null ? "tokenizer.chat_template" : $"tokenizer.chat_template.{name}";
        if (gguf.TryGetString(key, out var source)) return new ChatTemplate(source, bos, eos);
        if (name is not null)
        {
            var names = gguf.Keys.Where(k => k.StartsWith("tokenizer.chat_template.", StringComparison.Ordinal))
                .Select(k => k["tokenizer.chat_template.".Length..]).ToList();
            throw new TemplateException($"{gguf.Path}: no chat template named '{name}' (the file has: {(names.Count == 0 ? "none" : string.Join(", ", names))})");
        }
        return ChatMl(bos, eos);
    }

    private static string? TokenText(GgufFile gguf, string[] tokens, string key) =>
        gguf.TryGetUInt32(key, out uint id) && id < tokens.Length ? tokens[id] : null;

    /// <summary>The template of a Hugging Face model: <paramref name="path"/> is its directory or its
    /// tokenizer_config.json. <c>chat_template</c> is a string or a list of named templates (<paramref name="name"/>,
    /// "default" when null); a <c>chat_template.jinja</c> file beside it is used when the config has none; ChatML when
    /// neither exists. <c>bos_token</c> and <c>eos_token</c> may be strings or added-token objects.</summary>
    public static ChatTemplate FromHuggingFace(string path, string? name = null)
    {
        string config = Directory.Exists(path) ? Path.Combine(path, "tokenizer_config.json") : path;
        string dir = Path.GetDirectoryName(Path.GetFullPath(config))!;
        if (!File.Exists(config)) throw new TemplateException($"{config}: no such file");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(config)); }
        catch (JsonException e) { throw new TemplateException($"{config}: not valid JSON ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new TemplateException($"{config}: the top level is not a JSON object");
            string? bos = SpecialToken(root, "bos_token", config), eos = SpecialToken(root, "eos_token", config);
            string? source = null;
            if (root.TryGetProperty("chat_template", out var t)) source = PickTemplate(t, name, config);
            string beside = Path.Combine(dir, "chat_template.jinja");
            if (source is null && File.Exists(beside)) source = File.ReadAllText(beside);
            if (source is null && name is not null) throw new TemplateException($"{config}: no chat template named '{name}'");
            return source is null ? ChatMl(bos, eos) : new ChatTemplate(source, bos, eos);
        }
    }

    private static string? PickTemplate(JsonElement t, string? name, string config)
    {
        switch (t.ValueKind)
        {
            case JsonValueKind.Null: return null;
            case JsonValueKind.String:
                if (name is not null && name != "default") throw new TemplateException($"{config}: no chat template named '{name}' (the file has one unnamed template)");
                return t.GetString();
            case JsonValueKind.Array:
                var named = new List<(string Name, string Template)>();
                foreach (var item in t.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String
                        || !item.TryGetProperty("template", out var s) || s.ValueKind != JsonValueKind.String)
                        throw new TemplateException($"{config}: each chat_template entry needs \"name\" and \"template\" strings");
                    named.Add((n.GetString()!, s.GetString()!));
                }
                string want = name ?? "default";
                foreach (var (n, s) in named) if (n == want) return s;
                throw new TemplateException($"{config}: no chat template named '{want}' (the file has: {string.Join(", ", named.Select(x => x.Name))})");
            default:
                throw new TemplateException($"{config}: chat_template must be a string or a list of named templates, got {t.ValueKind}");
        }
    }

    private static string? SpecialToken(JsonElement root, string key, string config)
    {
        if (!root.TryGetProperty(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Null => null,
            JsonValueKind.Object when v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw new TemplateException($"{config}: {key} must be a string or an object with \"content\""),
        };
    }

    /// <summary>The prompt text for <paramref name="messages"/>, as <c>apply_chat_template(messages, tools=tools,
    /// add_generation_prompt=...)</c> renders it: the template sees <c>messages</c>, <c>tools</c> (None when not given),
    /// <c>documents</c> (None), <c>add_generation_prompt</c>, <c>bos_token</c>, <c>eos_token</c> and
    /// <paramref name="variables"/> (e.g. <c>enable_thinking</c>, <c>date_string</c>), which may override them.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, IReadOnlyList<JsonElement>? tools = null,
        IReadOnlyDictionary<string, object?>? variables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return _template.Render(Variables(messages, addGenerationPrompt, tools, variables), RenderOptions);
    }

    /// <summary>The variables <see cref="Render"/> passes, as template values (the tests hand the same to Jinja2).</summary>
    internal Dictionary<string, object?> Variables(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt,
        IReadOnlyList<JsonElement>? tools, IReadOnlyDictionary<string, object?>? variables)
    {
        var vars = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages.Select(m => (object?)m.ToTemplateValue()).ToList(),
            ["tools"] = tools?.Select(t => TemplateValues.FromJson(t)).ToList(),
            ["documents"] = null,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = BosToken,
            ["eos_token"] = EosToken,
        };
        if (variables is not null)
            foreach (var (k, v) in variables) vars[k] = TemplateValues.From(v);
        return vars;
    }
}
