using System.Text;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;

namespace Tessera.Formats.Tests.Tokenizers;

/// <summary>Every case of llama.cpp's tokenizer tests whose vocabulary GGUF is present gives exactly llama.cpp's ids.</summary>
public class LlamaCppVocabTests
{
    public static TheoryData<string> Names() => [.. LlamaCppVocabCases.Names];

    [SkippableTheory]
    [MemberData(nameof(Names))]
    public void EveryCaseGivesLlamaCppIds(string name)
    {
        string? gguf = LlamaCppVocabCases.Path($"ggml-vocab-{name}.gguf");
        Skip.If(gguf is null, $"../shared/models/{LlamaCppVocabCases.Folder}/ggml-vocab-{name}.gguf is absent (over 4 MiB upstream, not shipped); its pre-tokenizer is covered by the LLamaSharp comparison where that runs");
        var cases = LlamaCppVocabCases.Read(LlamaCppVocabCases.Path($"ggml-vocab-{name}.gguf.inp")!, LlamaCppVocabCases.Path($"ggml-vocab-{name}.gguf.out")!);
        using var file = GgufFile.Open(gguf!);
        var tok = Tokenizer.FromGguf(file);
        var failures = new List<string>();
        foreach (var (input, expected) in cases)
        {
            int[] got = tok.EncodeUtf8(input, addSpecial: false, parseSpecial: false);
            if (!got.SequenceEqual(expected))
                failures.Add($"'{Encoding.UTF8.GetString(input).ReplaceLineEndings("\\n")}': expected [{string.Join(' ', expected)}] got [{string.Join(' ', got)}]");
        }
        Assert.True(failures.Count == 0, $"{name}: {failures.Count} of {cases.Count} cases differ:\n{string.Join('\n', failures)}");
    }
}
