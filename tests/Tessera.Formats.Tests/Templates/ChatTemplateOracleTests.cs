using Tessera.Formats.Templates;

namespace Tessera.Formats.Tests.Templates;

/// <summary>Every template in shared/models/templates (llama.cpp's collection of real model templates) renders every
/// conversation of <see cref="ChatConversations"/> byte for byte as Jinja2 does with Hugging Face's settings, with and
/// without the generation prompt; where Jinja2 refuses (Gemma 2 and a system message, firefunction without its
/// <c>functions</c> variable) we refuse too, with the same raise_exception message.</summary>
public class ChatTemplateOracleTests
{
    private static readonly string TemplateDir = Path.Combine(FindShared(), "models", "templates");

    private static string FindShared()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "models", "templates"))) return candidate;
            string sibling = Path.Combine(d.FullName, "..", "shared");
            if (Directory.Exists(Path.Combine(sibling, "models", "templates"))) return Path.GetFullPath(sibling);
        }
        return "/work/shared";
    }

    private sealed record Case(string File, string Conversation, bool AddGenerationPrompt, ChatTemplate Template,
        IReadOnlyList<ChatMessage> Messages, IReadOnlyList<System.Text.Json.JsonElement>? Tools, Dictionary<string, object?>? Extra);

    private static List<Case> Cases()
    {
        var files = Directory.GetFiles(TemplateDir, "*.jinja").OrderBy(f => f, StringComparer.Ordinal).ToList();
        var cases = new List<Case>();
        foreach (var file in files)
        {
            var template = new ChatTemplate(File.ReadAllText(file), "<s>", "</s>") { RenderOptions = new JinjaRenderOptions { Now = () => JinjaOracle.Now } };
            string name = Path.GetFileName(file);
            foreach (var c in ChatConversations.All)
                foreach (bool generation in new[] { true, false })
                {
                    cases.Add(new Case(name, c.Name, generation, template, c.Messages, c.Tools, null));
                    // firefunction reads its function list and date from variables of its own.
                    if (name.Contains("firefunction", StringComparison.Ordinal))
                        cases.Add(new Case(name, c.Name + " (functions given)", generation, template, c.Messages, c.Tools, new()
                        {
                            ["functions"] = """[{"name": "get_weather", "parameters": {"city": "string"}}]""",
                            ["datetime"] = "2024-07-26",
                        }));
                }
        }
        return cases;
    }

    [SkippableFact]
    public void EveryTemplateRendersEveryConversationAsJinja2Does()
    {
        string? why = JinjaOracle.Missing();
        Skip.If(why is not null, why);
        var cases = Cases();
        Assert.True(Directory.GetFiles(TemplateDir, "*.jinja").Length >= 18, $"templates missing in {TemplateDir}");
        var expected = JinjaOracle.Render(cases.Select(c =>
            (c.Template.Source, (IReadOnlyDictionary<string, object?>)c.Template.Variables(c.Messages, c.AddGenerationPrompt, c.Tools, c.Extra))).ToList());
        var failures = new List<string>();
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var ours = JinjaOracle.Ours(() => c.Template.Render(c.Messages, c.AddGenerationPrompt, c.Tools, c.Extra));
            if (JinjaOracle.Compare(expected[i], ours) is { } diff)
                failures.Add($"{c.File} / {c.Conversation} / add_generation_prompt={c.AddGenerationPrompt}:\n    {diff}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} renderings differ from Jinja2:\n" + string.Join("\n", failures));

        // Most renderings succeed; the refusals are the templates' own.
        int rendered = expected.Count(e => e.Text is not null);
        Assert.True(rendered > cases.Count * 2 / 3, $"only {rendered} of {cases.Count} rendered");
        int Index(string file, string conversation) =>
            cases.FindIndex(c => c.File.StartsWith(file, StringComparison.Ordinal) && c.Conversation == conversation);
        Assert.Equal("System role not supported", expected[Index("google-gemma-2", "system and user")].Message);
        Assert.NotNull(expected[Index("google-gemma-2", "one user turn")].Text);
        Assert.Null(expected[Index("fireworks-ai-llama-3-firefunction", "one user turn")].Text);
        Assert.NotNull(expected[Index("fireworks-ai-llama-3-firefunction", "one user turn (functions given)")].Text);
    }

    [Fact]
    public void GemmaRefusesASystemMessageWithTheTemplatesOwnMessage()
    {
        var gemma = new ChatTemplate(File.ReadAllText(Path.Combine(TemplateDir, "google-gemma-2-2b-it.jinja")), "<bos>", "<eos>");
        var e = Assert.Throws<TemplateRaisedException>(() => gemma.Render([ChatMessage.System("s"), ChatMessage.User("u")]));
        Assert.Equal("System role not supported", e.Reason);
        Assert.Equal("<bos><start_of_turn>user\nu<end_of_turn>\n<start_of_turn>model\n", gemma.Render([ChatMessage.User(" u ")]));
    }

    [Fact]
    public void FirefunctionNeedsItsFunctionsVariable()
    {
        var fire = new ChatTemplate(File.ReadAllText(Path.Combine(TemplateDir, "fireworks-ai-llama-3-firefunction-v2.jinja")), "<|begin_of_text|>", "<|eot_id|>");
        var e = Assert.Throws<TemplateException>(() => fire.Render([ChatMessage.User("hi")]));
        Assert.Contains("'functions' is undefined", e.Message);
        string text = fire.Render([ChatMessage.User("hi")], variables: new Dictionary<string, object?> { ["functions"] = "[]", ["datetime"] = "today" });
        Assert.Contains("Available functions as JSON spec:\n[]\nToday is today.", text);
    }
}
