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

    [Fact]
    public void A_missing_model_is_a_clear_error()
    {
        var r = TesseraProcess.Run("generate", "--model", "/nonexistent/model.gguf", "--prompt", "hi", "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("/nonexistent/model.gguf", r.Stderr);
        Assert.Equal("", r.Stdout);
    }
}
