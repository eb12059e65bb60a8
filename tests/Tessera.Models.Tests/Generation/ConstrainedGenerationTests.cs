using System.Text;
using System.Text.Json;
using Json.Schema;
using Tessera.Cpu;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Generation;
using Tessera.Models.Generation.Constraints;
using Tessera.Models.Tests.Llama;

namespace Tessera.Models.Tests.Generation;

/// <summary>Generation on a random-weight decoder (its vocabulary: SentencePiece byte tokens and words): 200 random
/// JSON schemas, each output parses and validates against its schema (JsonSchema.Net, an independent validator) and
/// the same seeds without the constraint give other text; a GBNF grammar's outputs are documents of it; stop strings
/// that span token boundaries end the text before them.</summary>
public sealed class ConstrainedGenerationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-constrained-").FullName;
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 2));
    private readonly Models.Llama _model;
    private readonly Tokenizer _tokenizer;

    public ConstrainedGenerationTests()
    {
        string path = Path.Combine(_dir, "m.gguf");
        RandomLlamaGguf.Write(path, RandomLlamaShape.LlamaGqa with { Context = 2048 }, seed: 11);
        _model = LlamaLoader.Open(_cpu, path);
        using var gguf = GgufFile.Open(path);
        _tokenizer = Tokenizer.FromGguf(gguf);
    }

    public void Dispose()
    {
        _model.Dispose();
        _cpu.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<(string Text, GenerationStats Stats)> Generate(GenerationOptions options, int[]? prompt = null)
    {
        var stats = new GenerationStats();
        var text = new StringBuilder();
        options = options with { StopTokens = [_tokenizer.EosId!.Value] };
        await foreach (var t in new TextGenerator(_model, _tokenizer).GenerateAsync(prompt ?? [1, 290, 270], options, stats))
            text.Append(t.Text);
        return (text.Append(stats.TrailingText).ToString(), stats);
    }

    [Fact]
    public async Task Outputs_of_200_random_schemas_parse_and_validate()
    {
        var rng = new Random(2026);
        int differ = 0;
        for (int i = 0; i < 200; i++)
        {
            string schemaJson = RandomSchema.Generate(rng);
            var constraint = GrammarConstraint.FromJsonSchema(schemaJson);
            var options = new GenerationOptions { MaxTokens = 1900, Temperature = 1f, Seed = i, Constraint = constraint };
            var (text, stats) = await Generate(options);
            Assert.True(stats.Stop == StopReason.Eos, $"schema {i} {schemaJson}: stopped by {stats.Stop} after {stats.GeneratedTokens} tokens: {text}");
            JsonElement doc;
            try { doc = JsonDocument.Parse(text).RootElement; }
            catch (JsonException e) { throw new Xunit.Sdk.XunitException($"schema {i} {schemaJson}: output is not JSON ({e.Message}): {text}"); }
            var result = JsonSchema.FromText(schemaJson).Evaluate(doc, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(result.IsValid, $"schema {i} {schemaJson}: invalid output {text}");
            var (free, _) = await Generate(options with { Constraint = null, MaxTokens = Math.Max(stats.GeneratedTokens, 8) });
            if (free != text) differ++;
        }
        Assert.Equal(200, differ);
    }

    [Fact]
    public async Task A_gbnf_grammar_shapes_the_output()
    {
        var g = GrammarConstraint.FromGbnf("""
            root ::= answer ("," " "? answer){1,3} "."
            answer ::= "yes" | "no" | [0-9]{1,3}
            """);
        for (int seed = 0; seed < 20; seed++)
        {
            var (text, stats) = await Generate(new GenerationOptions { MaxTokens = 100, Temperature = 1.2f, Seed = seed, Constraint = g });
            Assert.Equal(StopReason.Eos, stats.Stop);
            Assert.True(g.Accepts(text), $"seed {seed}: '{text}' is not a document of the grammar");
        }
        // Greedy takes its fast path (the argmax checked alone) and must still obey the grammar.
        var (greedy, gs) = await Generate(new GenerationOptions { MaxTokens = 100, Constraint = g });
        Assert.True(g.Accepts(greedy) && gs.Stop == StopReason.Eos, greedy);
    }

    [Fact]
    public async Task A_stop_string_across_tokens_ends_the_text_before_it()
    {
        var options = new GenerationOptions { MaxTokens = 40, Temperature = 1f, Seed = 3 };
        var pieces = new List<string>();
        var stats0 = new GenerationStats();
        await foreach (var t in new TextGenerator(_model, _tokenizer).GenerateAsync([1, 290, 270], options with { StopTokens = [2] }, stats0))
            pieces.Add(t.Text);
        string free = string.Concat(pieces) + stats0.TrailingText;
        // A stop string made of the end of one piece and the start of the next.
        int k = Enumerable.Range(5, pieces.Count - 6).First(j => pieces[j].Length > 0 && pieces[j + 1].Length > 0);
        string stop = pieces[k][^1..] + pieces[k + 1][..1];
        var (text, stats) = await Generate(options with { StopStrings = [stop] });
        Assert.Equal(StopReason.StopString, stats.Stop);
        Assert.Equal(free[..free.IndexOf(stop, StringComparison.Ordinal)], text);
        Assert.DoesNotContain(stop, text);
        await Assert.ThrowsAsync<TesseraException>(() => new TextGenerator(_model).GenerateAllAsync([1, 5], options with { StopStrings = ["x"] }));
    }
}
