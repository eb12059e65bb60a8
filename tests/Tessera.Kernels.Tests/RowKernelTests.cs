using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>Softmax, LayerNorm, RMSNorm and RoPE (one block per row) on the CPU accelerator against the naive
/// references. x is a strided view: [rows, n] stored transposed ([n, rows] in memory) from element 3, so every
/// row is read with a non-unit stride; group sizes smaller than the row make threads loop along it, grids smaller
/// than the row count make blocks loop over rows.</summary>
public sealed class RowKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    // x[r, i] at 3 + i * rows + r
    private static (float[] Buffer, double[] Rows) Transposed(int rows, int n, int seed)
    {
        var buf = Values(3 + rows * n, seed, -3f, 3f);
        var v = new double[rows * n];
        for (int r = 0; r < rows; r++) for (int i = 0; i < n; i++) v[r * n + i] = buf[3 + i * rows + r];
        return (buf, v);
    }

    [Theory]
    [InlineData(5, 1, 32)] [InlineData(4, 7, 32)] [InlineData(3, 33, 256)] [InlineData(6, 64, 32)] [InlineData(2, 64, 64)]
    public void Softmax_with_scale_and_broadcast_mask(int rows, int n, int group)
    {
        var (xb, xv) = Transposed(rows, n, 1);
        var mask = Values(n, 2, -1f, 1f);
        if (n > 3) mask[2] = float.NegativeInfinity;
        using var bx = _h.Bytes(xb); using var bm = _h.Bytes(mask); using var bd = _h.Zeros<byte>(rows * n * 4);
        _h.Launch(typeof(SoftmaxKernels), nameof(SoftmaxKernels.Rows), grid: 2, group: group,
            bx.View, Layout(ElementCodes.F32, 3, [rows], [1]), (long)rows,
            bm.View, Layout(ElementCodes.F32, 0, [rows], [0]), 1L, 1,
            bd.View, Layout(ElementCodes.F32, 0, [rows], [n]), 1L, (long)rows, n, 0.7f);
        var m = new Nd([rows, n], [.. Enumerable.Range(0, rows * n).Select(i => (double)mask[i % n])]);
        AssertClose(NaiveOps.Softmax(new Nd([rows, n], xv), m, 0.7f).Data, _h.F32(bd, rows * n));
    }

    [Fact]
    public void Softmax_of_a_fully_masked_row_is_zero_and_bf16_rows_work()
    {
        const int rows = 3, n = 40;
        var x = Values(rows * n, 3);
        ushort[] bits = [.. x.Select(Bf16)];
        var mask = new float[rows * n];
        for (int i = 0; i < n; i++) mask[n + i] = float.NegativeInfinity; // row 1 fully masked
        using var bx = _h.Bytes(bits); using var bm = _h.Bytes(mask); using var bd = _h.Zeros<byte>(rows * n * 4);
        _h.Launch(typeof(SoftmaxKernels), nameof(SoftmaxKernels.Rows), grid: 1, group: 32,
            bx.View, Layout(ElementCodes.BF16, 0, [rows], [n]), 1L, bm.View, Layout(ElementCodes.F32, 0, [rows], [n]), 1L, 1,
            bd.View, Layout(ElementCodes.F32, 0, [rows], [n]), 1L, (long)rows, n, 1f);
        var got = _h.F32(bd, rows * n);
        Assert.All(got[n..(2 * n)], v => Assert.Equal(0f, v));
        var want = NaiveOps.Softmax(new Nd([rows, n], [.. bits.Select(b => (double)FromBf16(b))]));
        double[] w = [.. want.Data]; Array.Clear(w, n, n);
        AssertClose(w, got);
    }

    [Theory]
    [InlineData(5, 1, 32, true)] [InlineData(4, 7, 32, false)] [InlineData(3, 33, 256, true)] [InlineData(6, 64, 32, true)]
    public void LayerNorm_with_optional_weight_and_bias(int rows, int n, int group, bool affine)
    {
        var (xb, xv) = Transposed(rows, n, 4);
        var w = Values(2 * n, 5); var b = Values(n, 6);
        using var bx = _h.Bytes(xb); using var bw = _h.Bytes(w); using var bb = _h.Bytes(b); using var bd = _h.Zeros<byte>(rows * n * 4);
        // the weight is every other element of its buffer (stride 2)
        var wa = affine ? new VecArg { DType = ElementCodes.F32, Offset = 1, Stride = 2 } : new VecArg { DType = -1 };
        var ba = affine ? new VecArg { DType = ElementCodes.F32, Stride = 1 } : new VecArg { DType = -1 };
        _h.Launch(typeof(NormKernels), nameof(NormKernels.LayerNorm), grid: 2, group: group,
            bx.View, Layout(ElementCodes.F32, 3, [rows], [1]), (long)rows, bd.View, Layout(ElementCodes.F32, 0, [rows], [n]), 1L,
            bw.View, wa, bb.View, ba, (long)rows, n, 1e-5f);
        Nd? wn = affine ? new Nd([n], [.. Enumerable.Range(0, n).Select(i => (double)w[1 + 2 * i])]) : null;
        Nd? bn = affine ? Nd([n], b) : null;
        AssertClose(NaiveOps.LayerNorm(new Nd([rows, n], xv), wn, bn, 1e-5f).Data, _h.F32(bd, rows * n));
    }

    [Theory]
    [InlineData(5, 1, 32, true)] [InlineData(4, 7, 32, false)] [InlineData(3, 33, 256, true)] [InlineData(6, 64, 64, true)]
    public void RmsNorm_with_optional_weight(int rows, int n, int group, bool weighted)
    {
        var (xb, xv) = Transposed(rows, n, 7);
        var w = Values(n, 8);
        using var bx = _h.Bytes(xb); using var bw = _h.Bytes(w); using var bd = _h.Zeros<byte>(rows * n * 4);
        var wa = weighted ? new VecArg { DType = ElementCodes.F32, Stride = 1 } : new VecArg { DType = -1 };
        _h.Launch(typeof(NormKernels), nameof(NormKernels.RmsNorm), grid: 2, group: group,
            bx.View, Layout(ElementCodes.F32, 3, [rows], [1]), (long)rows, bd.View, Layout(ElementCodes.F32, 0, [rows], [n]), 1L,
            bw.View, wa, (long)rows, n, 1e-6f);
        AssertClose(NaiveOps.RmsNorm(new Nd([rows, n], xv), weighted ? Nd([n], w) : null, 1e-6f).Data, _h.F32(bd, rows * n));
    }

    [Theory]
    [InlineData(RopeKernels.RotateHalf, 8, 8)] [InlineData(RopeKernels.RotateHalf, 10, 6)]
    [InlineData(RopeKernels.Interleaved, 8, 8)] [InlineData(RopeKernels.Interleaved, 9, 4)] [InlineData(RopeKernels.RotateHalf, 64, 64)]
    public void Rope_rotates_the_first_R_channels_and_passes_the_rest(int mode, int d, int r)
    {
        // x [2 batches, S = 5, D] read as rows of a transposed buffer; cos and sin [S, R/2] contiguous.
        const int seq = 5;
        int rows = 2 * seq, half = r / 2;
        var (xb, xv) = Transposed(rows, d, 9);
        var cos = Values(seq * half, 10, -1f, 1f); var sin = Values(seq * half, 11, -1f, 1f);
        using var bx = _h.Bytes(xb); using var bc = _h.Bytes(cos); using var bs = _h.Bytes(sin); using var bd = _h.Zeros<byte>(rows * d * 4);
        var tab = Layout(ElementCodes.F32, 0, [2, seq], [0, half]); // [S, R/2] broadcast over the 2 batches
        _h.Launch(typeof(RopeKernels), nameof(RopeKernels.Rows), grid: 3, group: 4,
            bx.View, Layout(ElementCodes.F32, 3, [rows], [1]), (long)rows, bd.View, Layout(ElementCodes.F32, 0, [rows], [d]), 1L,
            bc.View, tab, 1L, bs.View, tab, 1L, (long)rows, d, half, mode);
        var want = NaiveOps.Rope(new Nd([2, seq, d], xv), Nd([seq, half], cos), Nd([seq, half], sin),
            mode == RopeKernels.RotateHalf ? RopeMode.RotateHalf : RopeMode.Interleaved);
        AssertClose(want.Data, _h.F32(bd, rows * d));
    }
}
