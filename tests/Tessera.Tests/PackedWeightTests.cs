using Tessera.Cpu;
using Tessera.Tests.Reference;

namespace Tessera.Tests;

/// <summary>Constant f32 [out, in] weights applied to more rows than a decode batch (CpuBackend.PackedRows and up: a
/// ViT's tokens, a batch of images, a long prompt) go through the packed GEMM with the weight packed once. Checked here:
/// the product and its fused epilogue against the double-accumulation reference at row counts that leave every kind of
/// short last tile (a whole 12-row tile, 1-4 rows, 5-8 rows, 9-11 rows), K past the K block, N not a multiple of 32;
/// a [batch, tokens, K] input is one GEMM over all rows with the same result as each image alone; and row i does not
/// depend on how many rows the call has (batch invariance within the packed regime).</summary>
public class PackedWeightTests
{
    private static float[] Rand(int count, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();
    }

    [Theory]
    [InlineData(132, 300, 77, 1)]  // 11 tiles of 12 rows, no short tile
    [InlineData(134, 300, 77, 2)]  // 2 rows left: one 4-row edge kernel
    [InlineData(197, 768, 131, 2)] // ViT-B/16's tokens: 5 rows left, two 4-row edge kernels
    [InlineData(141, 520, 33, 1)]  // 9 rows left: the 12-row kernel on a short tile
    [InlineData(250, 64, 300, 2)]  // 10 rows left, N with a 12-column last panel
    public void Linear_with_bias_and_gelu_matches_the_reference(int m, int k, int n, int threads)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        float[] xf = Rand(m * k, 1), wf = Rand(n * k, 2, 1 / MathF.Sqrt(k)), bf = Rand(n, 3);
        using var x = Tensor.FromArray(cpu, xf, m, k);
        using var plain = Tensor.FromArray(cpu, wf, n, k);
        using var w = plain.AsConstant();
        using var bias = Tensor.FromArray(cpu, bf, n);
        var want = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = bf[j];
                for (int p = 0; p < k; p++) s += (double)xf[i * k + p] * wf[j * k + p];
                want[i * n + j] = NaiveOps.Gelu(s);
            }
        for (int call = 0; call < 2; call++) // the first call packs the weight, the second reuses the panels
        {
            using var y = x.Linear(w, new MatMulEpilogue(Bias: bias, Activation: Activation.Gelu));
            Nmse.Below(want, y.ToArray<float>(), what: $"x [{m}, {k}] W^T [{n}, {k}] + b, gelu, {threads} thread(s), call {call}");
        }
    }

    [Theory]
    [InlineData(768, 131, 1)]
    [InlineData(300, 70, 2)]
    public void Row_i_does_not_depend_on_the_number_of_rows_from_PackedRows_on(int k, int n, int threads)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        const int all = 333;
        var x = Rand(all * k, 4);
        using var plain = Tensor.FromArray(cpu, Rand(n * k, 5, 1 / MathF.Sqrt(k)), n, k);
        using var w = plain.AsConstant();
        float[] whole;
        using (var xa = Tensor.FromArray(cpu, x, all, k))
        using (var ya = xa.Linear(w)) whole = ya.ToArray<float>();
        foreach (int m in (int[])[CpuBackend.PackedRows, 137, 200])
            for (int start = 0; start + m <= all; start += 61)
            {
                using var xm = Tensor.FromArray(cpu, x.AsSpan(start * k, m * k).ToArray(), m, k);
                using var ym = xm.Linear(w);
                var got = ym.ToArray<float>();
                for (int i = 0; i < m * n; i++)
                    if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(whole[start * n + i]))
                        Assert.Fail($"[{n}, {k}], {threads} thread(s): row {start + i / n} col {i % n} is {got[i]:R} in a call of {m} rows, {whole[start * n + i]:R} in one of {all}");
            }
    }

    [Fact]
    public void A_batch_of_token_sequences_is_one_gemm_with_each_sequences_result()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        const int batch = 3, tokens = 150, k = 200, n = 45;
        var x = Rand(batch * tokens * k, 6);
        using var plain = Tensor.FromArray(cpu, Rand(n * k, 7, 0.1f), n, k);
        using var w = plain.AsConstant();
        using var bias = Tensor.FromArray(cpu, Rand(n, 8), n);
        var res = Rand(batch * tokens * n, 9);
        using var xb = Tensor.FromArray(cpu, x, batch, tokens, k);
        using var rb = Tensor.FromArray(cpu, res, batch, tokens, n);
        using var yb = xb.Linear(w, new MatMulEpilogue(Bias: bias, Residual: rb));
        var together = yb.ToArray<float>();
        for (int b = 0; b < batch; b++)
        {
            using var xi = Tensor.FromArray(cpu, x.AsSpan(b * tokens * k, tokens * k).ToArray(), tokens, k);
            using var ri = Tensor.FromArray(cpu, res.AsSpan(b * tokens * n, tokens * n).ToArray(), tokens, n);
            using var yi = xi.Linear(w, new MatMulEpilogue(Bias: bias, Residual: ri));
            Assert.Equal(yi.ToArray<float>(), together.AsSpan(b * tokens * n, tokens * n).ToArray());
        }
    }
}
