using System.Diagnostics;
using System.Globalization;
using Tessera.Bench.Onnx;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>`peer attention --heads H --seq S --head-dim D [--batch B] [--causal 0|1] [--threads T] [--rounds N]`:
/// Tessera's flash attention against ONNX Runtime's com.microsoft MultiHeadAttention on the same [B, S, H*D] inputs,
/// same process, same thread count, interleaved rounds. Tessera reads the inputs as [B, S, H, D] viewed [B, H, S, D]
/// (no copies); "tessera" writes [B, H, S, D], "tessera-bshd" also transposes the output to ONNX Runtime's
/// [B, S, H*D]. One JSON line per engine, then one with the ratios (ORT time / Tessera time: above 1 is faster).</summary>
public static class PeerAttention
{
    private sealed record Engine(string Name, Action Run)
    {
        public List<double> Ms { get; } = [];
    }

    public static int Run(Args args)
    {
        int b = args.Int("batch", 1), h = args.Int("heads", 12), s = args.Int("seq", 1024), d = args.Int("head-dim", 64);
        int threads = args.Int("threads", 1), rounds = args.Int("rounds", 5), reps = args.Int("reps", 0);
        bool causal = args.Int("causal", 0) != 0;
        var rng = new Random(1);
        float[] R()
        {
            var a = new float[(long)b * s * h * d];
            for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
            return a;
        }
        float[] qa = R(), ka = R(), va = R();
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        using var qs = Tensor.FromArray(cpu, qa, b, s, h, d);
        using var ks = Tensor.FromArray(cpu, ka, b, s, h, d);
        using var vs = Tensor.FromArray(cpu, va, b, s, h, d);
        using var q = qs.Permute(0, 2, 1, 3);
        using var k = ks.Permute(0, 2, 1, 3);
        using var v = vs.Permute(0, 2, 1, 3);
        var options = new AttentionOptions { Causal = causal };
        float[]? mine = null;
        using var ort = new OrtAttention(b, s, h, d, causal, qa, ka, va, threads);
        var engines = new List<Engine>
        {
            new("tessera", () => { using var o = q.Attention(k, v, options); }),
            new("tessera-bshd", () =>
            {
                using var o = q.Attention(k, v, options);
                using var p = o.Permute(0, 2, 1, 3);
                using var c = p.Contiguous();
                mine ??= c.ToFloatArray();
            }),
            new("onnxruntime", ort.Run),
        };
        PeerRounds.Run([.. engines.Select(e => (e.Run, e.Ms))], rounds, reps, args.Int("settle-ms", 20), targetMs: 100, maxReps: 200, warmRuns: 1);
        double flops = 4.0 * b * h * s * (double)s * d * (causal ? 0.5 : 1);
        var ci = CultureInfo.InvariantCulture;
        var med = new Dictionary<string, double>();
        foreach (var e in engines)
        {
            e.Ms.Sort();
            med[e.Name] = e.Ms[e.Ms.Count / 2];
            Console.WriteLine(string.Create(ci,
                $"{{\"op\":\"attention\",\"engine\":\"{e.Name}\",\"batch\":{b},\"heads\":{h},\"seq\":{s},\"head_dim\":{d},\"causal\":{(causal ? "true" : "false")},\"threads\":{threads},\"reps\":{e.Ms.Count},\"ms_median\":{med[e.Name]:F3},\"ms_min\":{e.Ms[0]:F3},\"gflops\":{flops / (med[e.Name] * 1e6):F1}}}"));
        }
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < ort.Y.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(ort.Y[i] - mine![i]));
            maxRef = Math.Max(maxRef, Math.Abs(ort.Y[i]));
        }
        Console.WriteLine(string.Create(ci,
            $"{{\"op\":\"attention\",\"seq\":{s},\"threads\":{threads},\"speedup_vs_ort\":{med["onnxruntime"] / med["tessera"]:F3},\"speedup_bshd_vs_ort\":{med["onnxruntime"] / med["tessera-bshd"]:F3},\"max_rel_diff_vs_ort\":{maxDiff / Math.Max(maxRef, 1e-30):E2}}}"));
        return 0;
    }
}
