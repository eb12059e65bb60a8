using Tessera.Cpu;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Generation;

namespace Tessera.Models.Tests.Llama;

/// <summary>Hostile input through the library (the command line's cases are in Tessera.Cli.Tests): bytes that are not
/// UTF-8 tokenize through SentencePiece's byte fallback, as llama.cpp does, into byte tokens that detokenize back to the
/// same bytes, and generate without a crash. (An empty prompt, one longer than the context, ids outside the vocabulary
/// and a vocabulary that does not match the embedding are in GenerationTests.)</summary>
public sealed class HostileInputTests
{
    [SkippableFact]
    public async Task Invalid_utf8_takes_the_byte_fallback_and_generates()
    {
        string? path = LlamaStories260KTests.ModelPath();
        Skip.If(path is null || !File.Exists(path), "stories260K.gguf is absent");
        using var file = GgufFile.Open(path!);
        var tokenizer = Tokenizer.FromGguf(file);
        byte[] bytes = [(byte)'O', (byte)'n', 0xFF, 0xC3, (byte)'x', 0xE2, 0x82];  // a stray byte, a cut 2-byte and a cut 3-byte sequence
        int[] ids = tokenizer.EncodeUtf8(bytes);
        Assert.Equal(1, ids[0]);
        foreach (byte b in new byte[] { 0xFF, 0xC3, 0xE2, 0x82 }) Assert.Contains(3 + b, ids);   // <0xXX> is id 3 + XX in this vocabulary
        var back = ids.Skip(1).SelectMany(id => tokenizer.TokenToPiece(id, renderSpecial: false)).ToArray();
        Assert.Equal([(byte)' ', .. bytes], back);   // the leading space SentencePiece adds, then the bytes as given

        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var model = LlamaLoader.Open(cpu, path!);
        var tokens = await new TextGenerator(model).GenerateAllAsync(ids, new GenerationOptions { MaxTokens = 5 });
        Assert.Equal(5, tokens.Count);
        var detok = tokenizer.CreateStreamingDetokenizer();
        foreach (int id in ids.Concat(tokens)) detok.Push(id);   // invalid bytes stream out as U+FFFD, never an exception
        detok.Flush();
    }
}
