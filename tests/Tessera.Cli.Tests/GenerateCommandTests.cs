using System.Text.Json;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera generate</c> and <c>tessera tokenize</c> as a user runs them, on the real stories260K GGUF
/// (read in place from ../shared/models/llm): streamed text, the --json object's keys and meanings, special-token text
/// kept as text, and clear errors for a missing model.</summary>
public sealed class GenerateCommandTests
{
    private static readonly string Model = Path.GetFullPath(Path.Combine(TesseraProcess.RepoRoot, "..", "shared", "models", "llm", "stories260K", "stories260K.gguf"));

    private static void SkipWithoutModel() => Skip.IfNot(File.Exists(Model), $"stories260K.gguf is absent ({Model})");

    [SkippableFact]
    public void Generate_json_prints_one_object_with_the_documented_keys()
    {
        SkipWithoutModel();
        var r = TesseraProcess.Run("generate", "--model", Model, "--prompt", "Once upon a time", "--max-tokens", "30", "--threads", "1", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout); // the whole of stdout is one JSON object
        var o = doc.RootElement;
        var prompt = o.GetProperty("prompt_tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var tokens = o.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(1, prompt[0]); // BOS: the model's vocabulary adds one
        Assert.Equal(5, prompt.Length);
        Assert.Equal(30, tokens.Length);
        Assert.Equal("length", o.GetProperty("stop").GetString());
        Assert.StartsWith(", there was a little girl named Lily", o.GetProperty("text").GetString());
        foreach (var key in new[] { "prefill_tok_s", "decode_tok_s", "decode_ms_per_token" }) Assert.True(o.GetProperty(key).GetDouble() > 0, key);

        // The streamed text is the same continuation.
        var plain = TesseraProcess.Run("generate", "--model", Model, "--prompt", "Once upon a time", "--max-tokens", "30", "--threads", "1");
        Assert.True(plain.ExitCode == 0, plain.Stderr);
        Assert.Equal(o.GetProperty("text").GetString(), plain.Stdout.TrimEnd('\n'));
    }

    [SkippableFact]
    public void Special_token_text_in_the_prompt_stays_text_and_tokenize_shows_pieces()
    {
        SkipWithoutModel();
        var r = TesseraProcess.Run("tokenize", "--model", Model, "--text", "Once upon a time</s>", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var pieces = doc.RootElement.GetProperty("pieces").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Equal(1, ids[0]);
        Assert.DoesNotContain(2, ids); // "</s>" is EOS's text, not EOS
        Assert.Equal(ids.Length, pieces.Length);
        Assert.Equal(" Once upon a time</s>", string.Concat(pieces.Skip(1)));
    }

    [SkippableFact]
    public void A_stop_string_ends_the_text_before_it_and_the_stop_reason_is_stop()
    {
        SkipWithoutModel();
        var r = TesseraProcess.Run("generate", "--model", Model, "--prompt", "Once upon a time", "--max-tokens", "30", "--threads", "1",
            "--stop", "little", "--stop", "never appears", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal("stop", doc.RootElement.GetProperty("stop").GetString());
        Assert.Equal(", there was a ", doc.RootElement.GetProperty("text").GetString());
        var plain = TesseraProcess.Run("generate", "--model", Model, "--prompt", "Once upon a time", "--max-tokens", "30", "--threads", "1", "--stop", "little");
        Assert.Equal(", there was a \n", plain.Stdout);
    }

    [SkippableFact]
    public void Json_schema_and_grammar_constrain_the_output()
    {
        SkipWithoutModel();
        string dir = Directory.CreateTempSubdirectory("tessera-cli-schema-").FullName;
        try
        {
            string schema = Path.Combine(dir, "person.json");
            File.WriteAllText(schema, """
                {"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},
                 "pet":{"enum":["cat","dog"]}},"required":["name","age","pet"],"additionalProperties":false}
                """);
            var r = TesseraProcess.Run("generate", "--model", Model, "--prompt", "Once upon a time", "--max-tokens", "200", "--threads", "1",
                "--json-schema", schema, "--temperature", "0.8", "--seed", "4", "--top-k", "40", "--top-p", "0.95", "--min-p", "0.05",
                "--repeat-penalty", "1.1", "--presence-penalty", "0.1", "--frequency-penalty", "0.1", "--typical", "0.99", "--json");
            Assert.True(r.ExitCode == 0, r.Stderr);
            using var doc = JsonDocument.Parse(r.Stdout);
            Assert.Equal("eos", doc.RootElement.GetProperty("stop").GetString());
            using var person = JsonDocument.Parse(doc.RootElement.GetProperty("text").GetString()!);
            Assert.Equal(JsonValueKind.Number, person.RootElement.GetProperty("age").ValueKind);
            Assert.Contains(person.RootElement.GetProperty("pet").GetString(), new[] { "cat", "dog" });

            string grammar = Path.Combine(dir, "yn.gbnf");
            File.WriteAllText(grammar, "root ::= (\"yes\" | \"no\") \".\"\n");
            var g = TesseraProcess.Run("generate", "--model", Model, "--prompt", "Once upon a time", "--max-tokens", "20", "--threads", "1", "--grammar", grammar, "--json");
            Assert.True(g.ExitCode == 0, g.Stderr);
            using var gdoc = JsonDocument.Parse(g.Stdout);
            Assert.Contains(gdoc.RootElement.GetProperty("text").GetString(), new[] { "yes.", "no." });
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SkippableTheory]
    [InlineData("--logit-bias", "5", "ID=BIAS")]
    [InlineData("--top-p", "1.5", "top-p")]
    [InlineData("--json-schema", "/nonexistent/s.json", "/nonexistent/s.json")]
    public void Bad_sampling_flags_are_clear_errors(string flag, string value, string message)
    {
        SkipWithoutModel();
        var r = TesseraProcess.Run("generate", "--model", Model, "--prompt", "hi", flag, value, "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Stderr);
    }

    [Fact]
    public void A_missing_model_is_a_clear_error()
    {
        var r = TesseraProcess.Run("generate", "--model", "/nonexistent/model.gguf", "--prompt", "hi", "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("/nonexistent/model.gguf", r.Stderr);
        Assert.Equal("", r.Stdout);
    }
}
