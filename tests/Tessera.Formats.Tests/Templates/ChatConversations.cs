using System.Text.Json;
using Tessera.Formats.Templates;

namespace Tessera.Formats.Tests.Templates;

/// <summary>Conversations in the OpenAI / Hugging Face message shape, as JSON: with and without a system message,
/// several turns, tool definitions, tool calls and their results, content as parts, text that needs escaping.</summary>
internal static class ChatConversations
{
    public sealed record Conversation(string Name, IReadOnlyList<ChatMessage> Messages, IReadOnlyList<JsonElement>? Tools);

    private const string WeatherTools = """
        [{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city",
          "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
            "days": {"type": "integer", "description": "Forecast days", "minimum": 1, "maximum": 7, "default": 1}},
           "required": ["city"]}}},
         {"type": "function", "function": {"name": "search", "description": "Search the web.",
          "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "What to look for"},
            "limit": {"type": ["integer", "null"], "description": "Most results"}}, "required": ["query"]}}}]
        """;

    private static readonly (string Name, string Messages, bool Tools)[] Json =
    [
        ("one user turn", """[{"role": "user", "content": "Hello!"}]""", false),
        ("system and user", """[{"role": "system", "content": "You are a terse assistant."}, {"role": "user", "content": "What is 2+2?"}]""", false),
        ("multi-turn", """
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"},
             {"role": "assistant", "content": "Hello! How can I help?"}, {"role": "user", "content": "Tell me a joke.\nA short one."}]
            """, false),
        ("multi-turn without system", """
            [{"role": "user", "content": "  Name a colour.  "}, {"role": "assistant", "content": "Blue."},
             {"role": "user", "content": "Another?"}, {"role": "assistant", "content": "Green."}, {"role": "user", "content": "Thanks"}]
            """, false),
        ("text that needs escaping", """
            [{"role": "system", "content": "Quote \"exactly\" and 'this'."},
             {"role": "user", "content": "Ça va? {{ not a tag }} {% neither %} <b>&amp;</b> \\ back\tslash 中文 🙂"}]
            """, false),
        ("tools offered", """
            [{"role": "system", "content": "You can call tools."}, {"role": "user", "content": "Weather in Paris?"}]
            """, true),
        ("tools without system", """[{"role": "user", "content": "Search for cats"}]""", true),
        ("tool call and result", """
            [{"role": "user", "content": "What's the weather in Paris?"},
             {"role": "assistant", "tool_calls": [{"id": "call12345", "type": "function",
               "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
             {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
             {"role": "assistant", "content": "It is 21.5 °C and clear in Paris."},
             {"role": "user", "content": "And tomorrow?"}]
            """, true),
        ("two tool calls with content", """
            [{"role": "system", "content": "Use tools when needed."}, {"role": "user", "content": "Paris and Rome weather"},
             {"role": "assistant", "content": "Let me check.", "tool_calls": [
               {"id": "abcdefghi", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
               {"id": "jklmnopqr", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome", "days": 2}}}]},
             {"role": "tool", "tool_call_id": "abcdefghi", "name": "get_weather", "content": "18"},
             {"role": "tool", "tool_call_id": "jklmnopqr", "name": "get_weather", "content": "25"}]
            """, true),
        ("content as parts", """
            [{"role": "user", "content": [{"type": "text", "text": "Describe this:"}, {"type": "text", "text": " please"}]}]
            """, false),
    ];

    public static IReadOnlyList<Conversation> All { get; } = Json.Select(c =>
    {
        using var doc = JsonDocument.Parse(c.Messages);
        var messages = doc.RootElement.EnumerateArray().Select(ChatMessage.FromJson).ToList();
        IReadOnlyList<JsonElement>? tools = null;
        if (c.Tools)
        {
            using var t = JsonDocument.Parse(WeatherTools);
            tools = t.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
        }
        return new Conversation(c.Name, messages, tools);
    }).ToList();
}
