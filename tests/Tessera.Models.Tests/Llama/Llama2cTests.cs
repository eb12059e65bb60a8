using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Gguf;

namespace Tessera.Models.Tests.Llama;

/// <summary>karpathy/llama2.c legacy checkpoints: a random f32 GGUF decoder written out in run.c's layout (header, then
/// each weight over all layers, the RoPE tables, an unshared classifier) gives the GGUF model's logits, which
/// <see cref="LlamaLogitsTests"/> pins to llama.cpp; a truncated file or a bad header is refused with the reason.</summary>
public sealed class Llama2cTests
{
    internal static void WriteBin(string gguf, RandomLlamaShape s, string path, bool truncate = false)
    {
        using var file = GgufFile.Open(gguf);
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        float[] Get(string name) { using var t = file.Load(name, cpu); return t.ToFloatArray(); }
        using var fs = File.Create(path);
        using var w = new BinaryWriter(fs);
        bool shared = !file.Contains("output.weight");
        foreach (int v in new[] { s.Dim, s.Ffn, s.Layers, s.Heads, s.KvHeads, shared ? s.Vocab : -s.Vocab, s.Context }) w.Write(v);
        void Put(float[] a) { foreach (var f in a) w.Write(f); }
        Put(Get("token_embd.weight"));
        foreach (var leaf in new[] { "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_down", "ffn_up" })
            for (int i = 0; i < s.Layers; i++) Put(Get($"blk.{i}.{leaf}.weight"));
        Put(Get("output_norm.weight"));
        Put(new float[s.Context * (s.Dim / s.Heads)]); // freq_cis_real and freq_cis_imag, [seq, hd/2] each
        if (!shared) Put(Get("output.weight"));
        if (truncate) fs.SetLength(fs.Length - 4);
    }

    [Theory]
    [InlineData(false), InlineData(true)]
    public void A_llama2c_checkpoint_gives_the_gguf_models_logits(bool tied)
    {
        var shape = RandomLlamaShape.LlamaGqa;
        string dir = Directory.CreateTempSubdirectory("tessera-l2c-").FullName;
        try
        {
            string gguf = Path.Combine(dir, "m.gguf"), bin = Path.Combine(dir, "m.bin");
            RandomLlamaGguf.Write(gguf, shape, seed: 13, tied: tied);
            WriteBin(gguf, shape, bin);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var a = LlamaLoader.Open(cpu, gguf);
            using var b = LlamaLoader.Open(cpu, bin);
            Assert.Equal(shape.Context, b.ContextLength);
            var ids = new[] { 1, 17, 250, 3, 99, 0, 42 };
            using var la = a.Forward(ids, null);
            using var lb = b.Forward(ids, null);
            Assert.True(LlamaLogitsTests.MaxDiff(la.ToArray<float>(), lb.ToArray<float>()) < 1e-5);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_truncated_checkpoint_or_a_bad_header_is_refused()
    {
        var shape = RandomLlamaShape.LlamaGqa;
        string dir = Directory.CreateTempSubdirectory("tessera-l2c-").FullName;
        try
        {
            string gguf = Path.Combine(dir, "m.gguf"), bin = Path.Combine(dir, "m.bin");
            RandomLlamaGguf.Write(gguf, shape, seed: 13);
            WriteBin(gguf, shape, bin, truncate: true);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
            var e = Assert.Throws<WeightFormatException>(() => LlamaLoader.Open(cpu, bin));
            Assert.Contains("truncated", e.Message);
            File.WriteAllBytes(bin, new byte[] { 64, 0, 0, 0, 0, 0, 0, 0 }.Concat(new byte[20]).ToArray());
            Assert.Throws<WeightFormatException>(() => LlamaLoader.Open(cpu, bin));
            File.WriteAllBytes(bin, new byte[10]);
            Assert.Throws<WeightFormatException>(() => LlamaLoader.Open(cpu, bin));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
