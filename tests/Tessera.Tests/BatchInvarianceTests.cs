using Tessera.Cpu;
using Tessera.Quant;

namespace Tessera.Tests;

/// <summary>Batch invariance of linear layers with constant weights (what continuous batching relies on): row i of
/// x W^T must be bit for bit the same whether the call has 1 to 4 (the f32 kernel streams weight rows), 7, 16, 36 (an
/// f32 work item of 4 rows after one of 32) or 128 rows, for f32 weights read in place
/// and for every quantized format, on 1 and 2 threads. Sizes leave tails everywhere: K not a multiple of the SIMD
/// width or of two blocks, N not a multiple of the 4-row tiles.</summary>
public class BatchInvarianceTests
{
    private static readonly int[] RowCounts = [1, 2, 3, 4, 7, 16, 36, 128];

    [Theory]
    [InlineData("f32", 200, 67, 1)]
    [InlineData("f32", 768, 131, 2)]
    [InlineData("q8_0", 96, 67, 1)]
    [InlineData("q8_0", 768, 131, 2)]
    [InlineData("q4_0", 96, 67, 2)]
    [InlineData("q4_0", 768, 131, 1)]
    [InlineData("q4_k", 512, 37, 2)]
    [InlineData("q6_k", 256, 37, 1)]
    public void Row_i_does_not_depend_on_the_number_of_rows(string type, int k, int n, int threads)
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        var rng = new Random(3);
        var x = Enumerable.Range(0, RowCounts[^1] * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var wf = Enumerable.Range(0, n * k).Select(_ => (float)(rng.NextDouble() * 2 - 1) / MathF.Sqrt(k)).ToArray();
        var dt = DTypeInfo.Parse(type);
        Tensor w;
        if (dt == DType.F32) using (var plain = Tensor.FromArray(cpu, wf, n, k)) w = plain.AsConstant();
        else
        {
            var bytes = new byte[dt.ByteCount((long)n * k)];
            BlockQuant.Quantize(dt, wf, bytes);
            using var raw = Tensor.FromArray(cpu, bytes, bytes.Length);
            using var typed = Tensor.FromStorage(raw.Storage, dt, new Shape(n, k));
            w = typed.AsConstant();
        }
        using (w)
        {
            float[] all;
            using (var xa = Tensor.FromArray(cpu, x, RowCounts[^1], k))
            using (var ya = xa.Linear(w)) all = ya.ToArray<float>();
            foreach (int m in RowCounts)
                for (int start = 0; start + m <= RowCounts[^1]; start += Math.Max(m, 37))
                {
                    using var xm = Tensor.FromArray(cpu, x.AsSpan(start * k, m * k).ToArray(), m, k);
                    using var ym = xm.Linear(w);
                    var got = ym.ToArray<float>();
                    for (int i = 0; i < m * n; i++)
                        if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(all[start * n + i]))
                            Assert.Fail($"{type} [{n}, {k}], {threads} thread(s): row {start + i / n} col {i % n} is {got[i]:R} in a call of {m} rows, {all[start * n + i]:R} in one of {RowCounts[^1]}");
                }
        }
    }
}
