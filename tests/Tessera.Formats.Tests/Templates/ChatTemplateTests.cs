using System.Text.Json;
using Tessera.Formats.Gguf;
using Tessera.Formats.Templates;

namespace Tessera.Formats.Tests.Templates;

/// <summary>Where a chat template comes from (GGUF metadata, tokenizer_config.json, ChatML when neither has one), what
/// the template sees (messages, tools, bos/eos from the vocabulary), and the errors a bad template or input gives.</summary>
public class ChatTemplateTests
{
    private const string Simple = "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}{{ eos_token }}";

    private static string WriteGguf(TempDir dir, Action<GgufWriter> extra)
    {
        var w = new GgufWriter().Add("general.architecture", GgufValue.From("llama"))
            .Add("tokenizer.ggml.model", GgufValue.From("llama"))
            .Add("tokenizer.ggml.tokens", GgufValue.Array(new[] { "<unk>", "<|begin|>", "<|end|>", "a" }))
            .Add("tokenizer.ggml.bos_token_id", GgufValue.From(1u))
            .Add("tokenizer.ggml.eos_token_id", GgufValue.From(2u));
        extra(w);
        string path = dir.File("m.gguf");
        w.Write(path);
        return path;
    }

    [Fact]
    public void A_gguf_template_renders_with_the_vocabularys_bos_and_eos()
    {
        using var dir = new TempDir();
        string path = WriteGguf(dir, w => w.Add("tokenizer.chat_template", GgufValue.From(Simple))
            .Add("tokenizer.chat_template.tool_use", GgufValue.From("tools:{{ tools|length }}")));
        using var gguf = GgufFile.Open(path);
        var t = ChatTemplate.FromGguf(gguf);
        Assert.False(t.IsChatMlFallback);
        Assert.Equal("<|begin|>[user:hi]><|end|>", t.Render([ChatMessage.User("hi")]));
        Assert.Equal("<|begin|>[user:hi][assistant:yo]<|end|>", t.Render([ChatMessage.User("hi"), ChatMessage.Assistant("yo")], addGenerationPrompt: false));

        using var tools = JsonDocument.Parse("""[{"type": "function", "function": {"name": "f"}}]""");
        var named = ChatTemplate.FromGguf(gguf, "tool_use");
        Assert.Equal("tools:1", named.Render([ChatMessage.User("x")], tools: tools.RootElement.EnumerateArray().ToList()));
        var e = Assert.Throws<TemplateException>(() => ChatTemplate.FromGguf(gguf, "rag"));
        Assert.Contains("no chat template named 'rag' (the file has: tool_use)", e.Message);
    }

    [Fact]
    public void A_model_without_a_template_gets_chatml()
    {
        using var dir = new TempDir();
        using var gguf = GgufFile.Open(WriteGguf(dir, _ => { }));
        var t = ChatTemplate.FromGguf(gguf);
        Assert.True(t.IsChatMlFallback);
        Assert.Equal("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n",
            t.Render([ChatMessage.System("S"), ChatMessage.User("U")]));
        Assert.Equal("<|im_start|>user\nab<|im_end|>\n", t.Render(
            [new ChatMessage("user", null) { Parts = [new ChatContentPart("text", "a"), new ChatContentPart("image"), new ChatContentPart("text", "b")] }],
            addGenerationPrompt: false));
    }

    [Fact]
    public void Hugging_face_configs_give_a_string_a_named_list_or_a_file_beside()
    {
        using var dir = new TempDir();
        string config = dir.File("tokenizer_config.json");
        File.WriteAllText(config, """{"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}""");
        Assert.Equal("<s>x</s>", ChatTemplate.FromHuggingFace(dir.Path).Render([ChatMessage.User("x")]));

        File.WriteAllText(config, """{"eos_token": null, "chat_template": [{"name": "default", "template": "D{{ eos_token }}"}, {"name": "tool_use", "template": "T"}]}""");
        Assert.Equal("D", ChatTemplate.FromHuggingFace(config).Render([]));
        Assert.Equal("T", ChatTemplate.FromHuggingFace(config, "tool_use").Render([]));
        Assert.Contains("no chat template named 'rag' (the file has: default, tool_use)",
            Assert.Throws<TemplateException>(() => ChatTemplate.FromHuggingFace(config, "rag")).Message);

        File.WriteAllText(config, """{"bos_token": "<s>"}""");
        Assert.True(ChatTemplate.FromHuggingFace(config).IsChatMlFallback);
        File.WriteAllText(dir.File("chat_template.jinja"), "beside:{{ bos_token }}");
        Assert.Equal("beside:<s>", ChatTemplate.FromHuggingFace(config).Render([]));

        File.WriteAllText(config, """{"chat_template": 5}""");
        Assert.Contains("chat_template must be a string or a list", Assert.Throws<TemplateException>(() => ChatTemplate.FromHuggingFace(config)).Message);
        File.WriteAllText(config, "{not json");
        Assert.Contains("not valid JSON", Assert.Throws<TemplateException>(() => ChatTemplate.FromHuggingFace(config)).Message);
    }

    [Fact]
    public void Messages_round_trip_through_json_with_only_their_fields()
    {
        using var doc = JsonDocument.Parse("""
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"x": 1.5, "y": [1, "é"]}}}]}
            """);
        var m = ChatMessage.FromJson(doc.RootElement);
        Assert.Equal("""{"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"x": 1.5, "y": [1, "é"]}}}]}""", m.ToJson());
        var t = new ChatTemplate("{{ messages[0].content is defined }} {{ messages[0].tool_calls[0].function.arguments|tojson }} {{ tools }}");
        Assert.Equal("""False {"x": 1.5, "y": [1, "é"]} None""", t.Render([m]));
        Assert.Throws<TemplateException>(() => ChatMessage.FromJson(JsonDocument.Parse("""{"content": "no role"}""").RootElement));
    }

    [Theory]
    [InlineData("a\nb\n{% include 'x.j2' %}", "template line 3: unsupported construct '{% include %}'")]
    [InlineData("{% for x in y %}\n{{ x }}", "template line 2: the template ends inside a block that needs {% endfor %}")]
    [InlineData("\n\n{{ x | frobnicate }}", "template line 3: unsupported construct: no filter named 'frobnicate'")]
    [InlineData("{% if x is frobbed %}{% endif %}", "template line 1: unsupported construct: no test named 'frobbed'")]
    [InlineData("ok\n{{ 'text' ", "template line 2: a tag opened with {{ is never closed")]
    [InlineData("{% endif %}", "template line 1: '{% endif %}' with no matching block open")]
    [InlineData("{{ a.b }}", "template line 1: 'a' is undefined")]
    [InlineData("{{ [].append(1) }}", "access to attribute 'append' of 'list' object is unsafe")]
    [InlineData("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "macro 'm' takes not more than 1 argument(s), got 2")]
    [InlineData("{{ 'x' * 100000000 }}", "a string repeated 100000000 times is too long")]
    [InlineData("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "macro 'f' recurses deeper than 200 calls")]
    [InlineData("{{ 'x' }}\n{{ 2 ** 100 }}", "template line 2: integer overflow")]
    [InlineData("{{ 'x'|indent(10000000) }}", "indent width 10000000 is too large")]
    [InlineData("{{ '%999999999d' % 1 }}", "format width 999999999 is too large")]
    public void Bad_templates_name_the_problem_and_the_line(string source, string message)
    {
        var e = Assert.ThrowsAny<TemplateException>(() => JinjaTemplate.Parse(source).Render(new Dictionary<string, object?>()));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Hostile_nesting_is_an_error_not_a_stack_overflow()
    {
        foreach (string source in new[]
        {
            "{{ " + new string('(', 100_000) + "1" + new string(')', 100_000) + " }}",
            "{{ " + string.Concat(Enumerable.Repeat("not ", 100_000)) + "x }}",
            "{{ " + new string('-', 100_000) + "1 }}",
            "{{ " + new string('[', 100_000) + new string(']', 100_000) + " }}",
            string.Concat(Enumerable.Repeat("{% if x %}", 100_000)),
        })
            Assert.Contains("deeper than 100 levels", Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(source)).Message);
    }

    [Fact]
    public void Raise_exception_keeps_the_templates_message_and_line()
    {
        var e = Assert.Throws<TemplateRaisedException>(() =>
            JinjaTemplate.Parse("{% if true %}\n  {{ raise_exception('Conversation roles must alternate') }}\n{% endif %}").Render(new Dictionary<string, object?>()));
        Assert.Equal("Conversation roles must alternate", e.Reason);
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Values_passed_from_dotnet_convert_or_are_refused()
    {
        var t = JinjaTemplate.Parse("{{ a }} {{ b }} {{ c }} {{ d }} {{ e|tojson }}");
        string s = t.Render(new Dictionary<string, object?>
        {
            ["a"] = 3, ["b"] = 2.5f, ["c"] = new[] { "x", "y" }, ["d"] = new Dictionary<string, object?> { ["k"] = true },
            ["e"] = System.Text.Json.Nodes.JsonNode.Parse("""{"n": [1, 2.0]}"""),
        });
        Assert.Equal("3 2.5 ['x', 'y'] {'k': True} {\"n\": [1, 2.0]}", s);
        Assert.Contains("cannot be passed to a template", Assert.Throws<TemplateException>(() =>
            t.Render(new Dictionary<string, object?> { ["a"] = new Uri("http://x") })).Message);
    }
}
