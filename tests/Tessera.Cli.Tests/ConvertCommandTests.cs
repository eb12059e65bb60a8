using System.Diagnostics;
using System.Text.Json;
using Tessera.Formats.Gguf;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera convert</c>, <c>generate</c> and <c>tokenize</c> on a llama2.c checkpoint as a user runs them:
/// a random llama2.c .bin with stories260K's tok512.bin beside it (as tokenizer.bin) or named by --tokenizer, converted
/// to GGUF; generation and tokenization give the same ids from the .bin and from the converted file. Hostile input:
/// invalid UTF-8 in the prompt, a prompt longer than the context, an empty prompt, a vocabulary that does not match
/// the embedding, bad convert arguments.</summary>
public sealed class ConvertCommandTests : IDisposable
{
    private static readonly string Stories = Path.GetFullPath(Path.Combine(TesseraProcess.RepoRoot, "..", "shared", "models", "llm", "stories260K"));
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-cli-convert-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void SkipWithoutStories() => Skip.IfNot(File.Exists(Path.Combine(Stories, "tok512.bin")), $"tok512.bin is absent ({Stories})");

    // run.c's legacy layout: 7 int32, then f32 weights over all layers, the RoPE tables, a shared classifier.
    private static void WriteLlama2c(string path, int dim = 48, int hidden = 96, int layers = 2, int heads = 4, int kvHeads = 2, int vocab = 512, int seq = 64)
    {
        var rng = new Random(7);
        using var w = new BinaryWriter(File.Create(path));
        foreach (int v in new[] { dim, hidden, layers, heads, kvHeads, vocab, seq }) w.Write(v);
        int hd = dim / heads, kv = kvHeads * hd;
        void Put(long n, float scale, float offset = 0) { for (long i = 0; i < n; i++) w.Write(offset + scale * (float)(rng.NextDouble() * 2 - 1)); }
        Put((long)vocab * dim, 1f);
        Put((long)layers * dim, 0.2f, 1f);
        Put((long)layers * dim * dim, 1f / MathF.Sqrt(dim));
        Put((long)layers * kv * dim, 1f / MathF.Sqrt(dim));
        Put((long)layers * kv * dim, 1f / MathF.Sqrt(dim));
        Put((long)layers * dim * dim, 1f / MathF.Sqrt(dim));
        Put((long)layers * dim, 0.2f, 1f);
        Put((long)layers * hidden * dim, 1f / MathF.Sqrt(dim));
        Put((long)layers * dim * hidden, 1f / MathF.Sqrt(hidden));
        Put((long)layers * hidden * dim, 1f / MathF.Sqrt(dim));
        Put(dim, 0.2f, 1f);
        Put((long)seq * hd, 0f); // freq_cis_real and freq_cis_imag
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [SkippableFact]
    public void A_llama2c_checkpoint_generates_and_converts_to_a_gguf_that_generates_the_same()
    {
        SkipWithoutStories();
        string bin = Path.Combine(_dir, "model.bin"), gguf = Path.Combine(_dir, "model.gguf");
        WriteLlama2c(bin);
        // Without a tokenizer beside it, the checkpoint's tokenizer is asked for by name.
        var missing = TesseraProcess.Run("generate", "--model", bin, "--prompt", "Once", "--json");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("tokenizer.bin", missing.Stderr);

        string tok = Path.Combine(Stories, "tok512.bin");
        var viaOption = TesseraProcess.Run("generate", "--model", bin, "--tokenizer", tok, "--prompt", "Once upon a time", "--max-tokens", "12", "--threads", "1", "--json");
        Assert.True(viaOption.ExitCode == 0, viaOption.Stderr);
        File.Copy(tok, Path.Combine(_dir, "tokenizer.bin"));
        var beside = TesseraProcess.Run("generate", "--model", bin, "--prompt", "Once upon a time", "--max-tokens", "12", "--threads", "1", "--json");
        Assert.True(beside.ExitCode == 0, beside.Stderr);

        var convert = TesseraProcess.Run("convert", bin, gguf, "--type", "f32", "--json");
        Assert.True(convert.ExitCode == 0, convert.Stderr);
        using (var doc = JsonDocument.Parse(convert.Stdout))
        {
            Assert.Equal("llama", doc.RootElement.GetProperty("architecture").GetString());
            Assert.Equal(512, doc.RootElement.GetProperty("tokens").GetInt32());
            Assert.Equal(2 * 9 + 2, doc.RootElement.GetProperty("tensors").GetInt32()); // 9 a layer, embedding, final norm (tied)
        }
        var converted = TesseraProcess.Run("generate", "--model", gguf, "--prompt", "Once upon a time", "--max-tokens", "12", "--threads", "1", "--json");
        Assert.True(converted.ExitCode == 0, converted.Stderr);

        using var a = JsonDocument.Parse(viaOption.Stdout);
        using var b = JsonDocument.Parse(beside.Stdout);
        using var c = JsonDocument.Parse(converted.Stdout);
        foreach (var key in new[] { "prompt_tokens", "tokens" })
        {
            Assert.Equal(Ints(a.RootElement.GetProperty(key)), Ints(b.RootElement.GetProperty(key)));
            Assert.Equal(Ints(a.RootElement.GetProperty(key)), Ints(c.RootElement.GetProperty(key)));
        }
        Assert.Equal(1, Ints(a.RootElement.GetProperty("prompt_tokens"))[0]);

        // tessera tokenize: the converted file and the checkpoint (tokenizer.bin beside it) give the same ids.
        foreach (var text in new[] { "Once upon a time, Lily saw a big dog.", "Zoë's café" })
        {
            var t1 = TesseraProcess.Run("tokenize", "--model", bin, "--text", text, "--json");
            var t2 = TesseraProcess.Run("tokenize", "--model", gguf, "--text", text, "--json");
            Assert.True(t1.ExitCode == 0 && t2.ExitCode == 0, t1.Stderr + t2.Stderr);
            using var d1 = JsonDocument.Parse(t1.Stdout);
            using var d2 = JsonDocument.Parse(t2.Stdout);
            Assert.Equal(Ints(d1.RootElement.GetProperty("ids")), Ints(d2.RootElement.GetProperty("ids")));
        }

        // Quantized: the plain summary names the types; the file generates.
        string q8 = Path.Combine(_dir, "model-q8.gguf");
        var quant = TesseraProcess.Run("convert", bin, q8, "--type", "q8_0");
        Assert.True(quant.ExitCode == 0, quant.Stderr);
        Assert.Contains("q8_0", quant.Stdout);
        Assert.Contains("f32", quant.Stdout);
        Assert.True(TesseraProcess.Run("generate", "--model", q8, "--prompt", "Once", "--max-tokens", "4", "--json").ExitCode == 0);
    }

    [Fact]
    public void Bad_convert_arguments_are_clear_errors()
    {
        var r = TesseraProcess.Run("convert", Path.Combine(_dir, "none"), Path.Combine(_dir, "out.gguf"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no such file", r.Stderr);
        string bin = Path.Combine(_dir, "model.bin");
        WriteLlama2c(bin);
        r = TesseraProcess.Run("convert", bin, Path.Combine(_dir, "out.gguf"), "--type", "q3_k");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--type", r.Stderr);
        r = TesseraProcess.Run("convert", bin, Path.Combine(_dir, "out.gguf"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("tokenizer", r.Stderr); // no tokenizer.bin beside it
        Assert.False(File.Exists(Path.Combine(_dir, "out.gguf")));
    }

    private static string StoriesGguf => Path.Combine(Stories, "stories260K.gguf");

    [SkippableFact]
    public void Hostile_prompts_are_clear_errors_not_crashes()
    {
        Skip.IfNot(File.Exists(StoriesGguf), $"stories260K.gguf is absent ({StoriesGguf})");
        // Longer than the context.
        string longPrompt = string.Join(" ", Enumerable.Repeat("Once upon a time", 600)); // 2401 tokens; its GGUF says 2048 positions
        var r = TesseraProcess.Run("generate", "--model", StoriesGguf, "--prompt", longPrompt, "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("context", r.Stderr);
        Assert.Equal("", r.Stdout);

        // Empty: the prompt is BOS alone, as llama.cpp makes it, and generation goes on from there.
        r = TesseraProcess.Run("generate", "--model", StoriesGguf, "--prompt", "", "--max-tokens", "5", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var doc = JsonDocument.Parse(r.Stdout)) Assert.Equal([1], Ints(doc.RootElement.GetProperty("prompt_tokens")));

        // Invalid UTF-8 bytes in the argument (the shell passes them raw).
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = TesseraProcess.RepoRoot };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec dotnet \"$0\" generate --model \"$1\" --prompt \"$(printf 'Once \\xff\\xfe upon')\" --json");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tessera.Cli.dll"));
        psi.ArgumentList.Add(StoriesGguf);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(1, p.ExitCode);
        Assert.Contains("not valid UTF-8", stderr);
        Assert.Contains("0xFF", stderr);
        Assert.Equal("", stdout);
    }

    [SkippableFact]
    public void A_vocabulary_that_does_not_match_the_embedding_is_a_clear_error()
    {
        Skip.IfNot(File.Exists(StoriesGguf), $"stories260K.gguf is absent ({StoriesGguf})");
        // stories260K.gguf with its last token cut from the vocabulary (tokens, scores, types), tensors byte for byte.
        string bad = Path.Combine(_dir, "short-vocab.gguf");
        int tokens;
        using (var file = GgufFile.Open(StoriesGguf))
        {
            var w = new GgufWriter();
            tokens = file.Get<string[]>("tokenizer.ggml.tokens").Length;
            foreach (var key in file.Keys)
                w.Add(key, key switch
                {
                    "tokenizer.ggml.tokens" => GgufValue.Array(file.Get<string[]>(key)[..^1]),
                    "tokenizer.ggml.scores" => GgufValue.Array(file.Get<float[]>(key)[..^1]),
                    "tokenizer.ggml.token_type" => GgufValue.Array(file.Get<int[]>(key)[..^1]),
                    _ => file.Values[key],
                });
            var bytes = File.ReadAllBytes(StoriesGguf);
            foreach (var name in file.Names)
            {
                var info = file.Info(name);
                w.AddTensor(Formats.WeightTensor.FromBytes(name, info.DType!.Value, [.. info.Dims], bytes.AsSpan((int)info.Offset, (int)info.ByteLength).ToArray()));
            }
            w.Write(bad);
        }
        foreach (var r in new[]
        {
            TesseraProcess.Run("generate", "--model", bad, "--prompt", "Once", "--max-tokens", "3", "--json"),
            TesseraProcess.RunWithInput("hello\n", "chat", "--model", bad, "--max-tokens", "3", "--json"),
        })
        {
            Assert.Equal(1, r.ExitCode);
            Assert.Contains($"token_embd.weight", r.Stderr);
            Assert.Contains($"has {tokens} rows but the vocabulary (tokenizer.ggml.tokens) has {tokens - 1} tokens", r.Stderr);
            Assert.DoesNotContain("   at ", r.Stderr); // a message, not a stack trace
            Assert.Equal("", r.Stdout);
        }
    }
}
