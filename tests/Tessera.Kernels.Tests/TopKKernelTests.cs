using System.Runtime.InteropServices;
using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>TopKKernels (Sort: bitonic in shared memory; Select: k passes; the global bitonic network) on the CPU
/// accelerator against NaiveOps.TopK: largest or smallest first, ties by the lower index, NaN above every number.
/// Rows are strided (x stored transposed), values come back as raw copies in x's dtype, rows hold many ties (values
/// drawn from a few integers), grids are smaller than the row count.</summary>
public sealed class TopKKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    /// <summary>The indices of the first k of a row in the output order (NaiveOps.TopK: repeated selection).</summary>
    private static int[] Reference(float[] row, int k, bool largest) =>
        [.. NaiveOps.TopK(new Nd([row.Length], [.. row.Select(v => (double)v)]), k, largest).Indices.Data.Select(i => (int)i)];

    /// <summary>Rows of n values from {-2, -1, 0, 1, 2} plus fractions, with a NaN in some rows.</summary>
    private static float[] Rows(int rows, int n, int seed)
    {
        var r = new Random(seed);
        var x = new float[rows * n];
        for (int i = 0; i < x.Length; i++) x[i] = r.Next(3) == 0 ? (float)Math.Round(r.NextDouble() * 4 - 2, 2) : r.Next(-2, 3);
        if (n > 2) { x[n + 1] = float.NaN; x[2 * n - 1] = float.NaN; }
        return x;
    }

    public static TheoryData<string, int, int, bool> Cases()
    {
        var d = new TheoryData<string, int, int, bool>();
        foreach (var kernel in new[] { nameof(TopKKernels.Sort), nameof(TopKKernels.Select) })
            foreach (var (n, k) in new[] { (1, 1), (7, 3), (17, 17), (33, 1), (64, 5), (65, 65) })
            {
                d.Add(kernel, n, k, true);
                d.Add(kernel, n, k, false);
            }
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Top_k_of_strided_rows_matches_a_stable_sort(string kernel, int n, int k, bool largest)
    {
        const int rows = 3;
        var x = Rows(rows, n, n * 31 + k);
        var stored = new float[1 + rows * n]; // x[r, i] at 1 + i * rows + r
        for (int r = 0; r < rows; r++) for (int i = 0; i < n; i++) stored[1 + i * rows + r] = x[r * n + i];
        using var bx = _h.Bytes(stored);
        using var bv = _h.Zeros<byte>(rows * k * 4);
        using var bi = _h.Zeros<int>(rows * k + 2);
        _h.Launch(typeof(TopKKernels), kernel, grid: 2, group: 32,
            bx.View, Layout(ElementCodes.F32, 1, [rows], [1]), (long)rows, bv.View, Layout(ElementCodes.F32, 0, [rows], [k]), 1L,
            bi.View, 2L, (long)rows, n, k, largest ? 1 : 0);
        var values = _h.F32(bv, rows * k);
        var indices = _h.Download(bi);
        for (int r = 0; r < rows; r++)
        {
            var row = x[(r * n)..((r + 1) * n)];
            var want = Reference(row, k, largest);
            Assert.Equal(want, indices[(2 + r * k)..(2 + (r + 1) * k)]);
            Assert.Equal(want.Select(i => row[i]), values[(r * k)..((r + 1) * k)]);
        }
    }

    [Theory]
    [InlineData(nameof(TopKKernels.Sort))] [InlineData(nameof(TopKKernels.Select))]
    public void Bf16_values_come_back_as_raw_copies(string kernel)
    {
        const int rows = 2, n = 19, k = 4;
        var x = Rows(rows, n, 5);
        ushort[] bits = [.. x.Select(Bf16)];
        using var bx = _h.Bytes(bits);
        using var bv = _h.Zeros<byte>(rows * k * 2);
        using var bi = _h.Zeros<int>(rows * k);
        _h.Launch(typeof(TopKKernels), kernel, grid: 1, group: 64,
            bx.View, Layout(ElementCodes.BF16, 0, [rows], [n]), 1L, bv.View, Layout(ElementCodes.BF16, 0, [rows], [k]), 1L,
            bi.View, 0L, (long)rows, n, k, 1);
        var values = MemoryMarshal.Cast<byte, ushort>(_h.Download(bv)).ToArray();
        var indices = _h.Download(bi);
        for (int r = 0; r < rows; r++)
        {
            var row = bits[(r * n)..((r + 1) * n)];
            var want = Reference([.. row.Select(FromBf16)], k, largest: true);
            Assert.Equal(want, indices[(r * k)..((r + 1) * k)]);
            Assert.Equal(want.Select(i => row[i]), values[(r * k)..((r + 1) * k)]);
        }
    }

    [Theory]
    [InlineData(7, 7, true)] [InlineData(33, 5, false)] [InlineData(65, 65, true)] [InlineData(1, 1, false)] [InlineData(64, 17, true)]
    public void Global_bitonic_network_over_a_scratch_buffer_matches_a_stable_sort(int n, int k, bool largest)
    {
        // The host's loop for long rows, at tiny sizes: load into [rows, P] pairs, one launch per step, write k.
        const int rows = 3;
        var x = Rows(rows, n, n * 7 + k);
        var stored = new float[1 + rows * n]; // x[r, i] at 1 + i * rows + r
        for (int r = 0; r < rows; r++) for (int i = 0; i < n; i++) stored[1 + i * rows + r] = x[r * n + i];
        int p2 = 1;
        while (p2 < n) p2 *= 2;
        var xl = Layout(ElementCodes.F32, 1, [rows], [1]);
        using var bx = _h.Bytes(stored);
        using var keys = _h.Zeros<ulong>(rows * p2); using var idx = _h.Zeros<int>(rows * p2);
        using var bv = _h.Zeros<byte>(rows * k * 4); using var bi = _h.Zeros<int>(rows * k);
        var t = typeof(TopKKernels);
        _h.Launch(t, nameof(TopKKernels.GlobalInit), grid: 2, group: 16, bx.View, xl, (long)rows, keys.View, idx.View, (long)rows, n, p2);
        for (int span = 2; span <= p2; span *= 2)
            for (int half = span / 2; half > 0; half /= 2)
                _h.Launch(t, nameof(TopKKernels.GlobalStep), grid: 2, group: 16, keys.View, idx.View, (long)rows, n, p2, span, half, largest ? 1 : 0);
        _h.Launch(t, nameof(TopKKernels.GlobalWrite), grid: 2, group: 8, bx.View, xl, (long)rows, idx.View,
            bv.View, Layout(ElementCodes.F32, 0, [rows], [k]), 1L, bi.View, 0L, (long)rows, p2, k);
        var values = _h.F32(bv, rows * k);
        var indices = _h.Download(bi);
        for (int r = 0; r < rows; r++)
        {
            var row = x[(r * n)..((r + 1) * n)];
            var want = Reference(row, k, largest);
            Assert.Equal(want, indices[(r * k)..((r + 1) * k)]);
            Assert.Equal(want.Select(i => row[i]), values[(r * k)..((r + 1) * k)]);
        }
    }

    [Theory]
    [InlineData(nameof(TopKKernels.Sort))] [InlineData(nameof(TopKKernels.Select))]
    public void Integer_rows_sort_exactly_and_signed_zeros_tie(string kernel)
    {
        // i64 keys one apart past 2^53 (equal as doubles), the extremes, repeats; then f32 -0 and +0, which tie
        // (lower index first) as the CPU's comparison has them.
        long big = (1L << 53) + 1;
        long[] x = [big, big + 1, -3, long.MaxValue, long.MinValue, 7, big, -3, 0];
        using var bx = _h.Bytes(x);
        using var bv = _h.Zeros<byte>(x.Length * 8); using var bi = _h.Zeros<int>(x.Length);
        foreach (int largest in new[] { 1, 0 })
        {
            _h.Launch(typeof(TopKKernels), kernel, grid: 1, group: 32, bx.View, Layout(ElementCodes.I64, 0, [1], [x.Length]), 1L,
                bv.View, Layout(ElementCodes.I64, 0, [1], [x.Length]), 1L, bi.View, 0L, 1L, x.Length, x.Length, largest);
            var order = Enumerable.Range(0, x.Length).OrderBy(i => largest == 1 ? -(decimal)x[i] : x[i]).ThenBy(i => i).ToArray();
            Assert.Equal(order, _h.Download(bi));
            Assert.Equal(order.Select(i => x[i]), MemoryMarshal.Cast<byte, long>(_h.Download(bv)).ToArray());
        }
        float[] z = [0f, -0f, 1f, -0f, float.NaN, 0f, float.NegativeInfinity];
        using var bz = _h.Bytes(z);
        using var bzv = _h.Zeros<byte>(z.Length * 4); using var bzi = _h.Zeros<int>(z.Length);
        _h.Launch(typeof(TopKKernels), kernel, grid: 1, group: 32, bz.View, Layout(ElementCodes.F32, 0, [1], [z.Length]), 1L,
            bzv.View, Layout(ElementCodes.F32, 0, [1], [z.Length]), 1L, bzi.View, 0L, 1L, z.Length, z.Length, 0);
        Assert.Equal(Reference(z, z.Length, largest: false), _h.Download(bzi));
        Assert.Equal([0, 1, 3, 5], _h.Download(bzi)[1..5]); // -inf first, then the four zeros in index order
    }
}
