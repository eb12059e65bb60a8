using Tessera.Attention;
using Tessera.Cpu;
using Tessera.Tests.Reference;

namespace Tessera.Cuda.Tests;

/// <summary>Ring attention over several CUDA backends (each its own stream on device 0, standing in for several
/// GPUs), against full attention on the CPU. Skipped, with the reason, where there is no CUDA driver or device.</summary>
public sealed class CudaRingTests
{
    [SkippableTheory]
    [InlineData(2, false)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    public async Task RingOverCudaStreamsEqualsFullAttention(int ranks, bool causal)
    {
        var gpus = new List<CudaBackend>();
        try
        {
            for (int r = 0; r < ranks; r++)
            {
                Skip.IfNot(CudaBackend.TryCreate(0, out var g, out string why), $"no CUDA: {why}");
                gpus.Add(g!);
            }
            var cpu = new CpuBackend();
            int b = 1, h = 4, s = 61, d = 64;
            var rng = new Random(ranks);
            float[] R() => [.. Enumerable.Range(0, b * h * s * d).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
            using var q = Tensor.FromArray(cpu, R(), b, h, s, d);
            using var k = Tensor.FromArray(cpu, R(), b, h, s, d);
            using var v = Tensor.FromArray(cpu, R(), b, h, s, d);
            var o = new AttentionOptions { Causal = causal };
            using var full = q.Attention(k, v, o);
            int[] lengths = [.. Enumerable.Range(0, ranks).Select(r => s * (r + 1) / ranks - s * r / ranks)];
            var outs = await RingAttention.RunInProcessAsync(gpus, q, k, v, lengths, o);
            var moved = outs.Select(t => t.ToBackend(cpu)).ToArray();
            foreach (var t in outs) t.Dispose();
            using var all = Tensor.Concat(2, moved);
            foreach (var t in moved) t.Dispose();
            var want = full.ToArray<float>();
            var got = all.ToArray<float>();
            Nmse.Below(want, got, 1e-10, $"ring over {ranks} CUDA streams");
        }
        finally
        {
            foreach (var g in gpus) g.Dispose();
        }
    }
}
