using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>NormKernels.GroupNorm and RopeKernels.Rows with batched tables on the CPU accelerator against naive
/// double references. GroupNorm's x is an NHWC buffer read as an NCHW view (every group strided); the RoPE tables are
/// [B, 1, S, R/2], one set of positions per sequence, broadcast over the heads.</summary>
public sealed class GroupNormRopeKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    private static double[] GroupNormReference(double[] x, int batch, int c, int s, int groups, float[]? w, float[]? b, double eps) =>
        NaiveOps.GroupNorm(new Nd([batch, c, s], x), groups, w is null ? null : Nd([c], w), b is null ? null : Nd([c], b), eps).Data;

    [Theory]
    [InlineData(2, 6, 3, 3, 5, true, 32)] [InlineData(1, 4, 1, 1, 7, false, 32)] [InlineData(3, 8, 8, 2, 2, true, 64)]
    [InlineData(2, 6, 2, 1, 1, true, 32)] [InlineData(1, 33, 3, 3, 3, true, 256)]
    [InlineData(1, 64, 4, 5, 7, true, 32)] // TAEF2's pooling branch: 4 groups, 560 elements a group (17 per thread)
    public void GroupNorm_of_an_nhwc_buffer_read_as_nchw(int batch, int c, int groups, int h, int w, bool affine, int group)
    {
        int s = h * w;
        var buf = Values(batch * c * s, batch + c + s, -2f, 3f); // x[b, c, p] at b C S + p C + c
        var x = new double[batch * c * s];
        for (int bi = 0; bi < batch; bi++) for (int ch = 0; ch < c; ch++) for (int p = 0; p < s; p++)
            x[(bi * c + ch) * s + p] = buf[bi * c * s + p * c + ch];
        var wt = Values(c, 3); var bs = Values(c, 4);
        using var bx = _h.Bytes(buf); using var bw = _h.Bytes(wt); using var bb = _h.Bytes(bs); using var bd = _h.Zeros<byte>(x.Length * 4);
        var wa = affine ? new VecArg { DType = ElementCodes.F32, Stride = 1 } : new VecArg { DType = -1 };
        var ba = affine ? new VecArg { DType = ElementCodes.F32, Stride = 1 } : new VecArg { DType = -1 };
        _h.Launch(typeof(NormKernels), nameof(NormKernels.GroupNorm), grid: 2, group: group,
            bx.View, Layout(ElementCodes.F32, 0, [batch, c, h, w], [c * s, 1, w * c, c]),
            bd.View, Layout(ElementCodes.F32, 0, [batch, c, h, w], [c * s, s, w, 1]),
            bw.View, wa, bb.View, ba, (long)(batch * groups), groups, c / groups, (long)s, 1e-5f);
        AssertClose(GroupNormReference(x, batch, c, s, groups, affine ? wt : null, affine ? bs : null, 1e-5), _h.F32(bd, x.Length));
    }

    [Fact]
    public void GroupNorm_reads_bf16_and_writes_bf16()
    {
        const int batch = 2, c = 4, groups = 2, s = 9;
        ushort[] bits = [.. Values(batch * c * s, 5, -1f, 4f).Select(Bf16)];
        double[] x = [.. bits.Select(v => (double)FromBf16(v))];
        using var bx = _h.Bytes(bits); using var bd = _h.Zeros<byte>(x.Length * 2); using var none = _h.Zeros<byte>(4);
        var l = Layout(ElementCodes.BF16, 0, [batch * c * s], [1]);
        _h.Launch(typeof(NormKernels), nameof(NormKernels.GroupNorm), grid: 4, group: 32, bx.View, l, bd.View, l,
            none.View, new VecArg { DType = -1 }, none.View, new VecArg { DType = -1 }, (long)(batch * groups), groups, c / groups, (long)s, 1e-6f);
        var got = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(_h.Download(bd)).ToArray().Select(FromBf16).ToArray();
        AssertClose(GroupNormReference(x, batch, c, s, groups, null, null, 1e-6), got, 3e-5); // one bf16 rounding
    }

    [Theory]
    [InlineData(RopeKernels.RotateHalf, 8, 8)] [InlineData(RopeKernels.Interleaved, 9, 4)] [InlineData(RopeKernels.RotateHalf, 17, 6)]
    public void Rope_with_one_table_per_sequence_broadcast_over_heads(int mode, int d, int r)
    {
        // x [B=2, H=3, S=5, D] contiguous; cos, sin [B, 1, S, R/2]: each sequence at its own positions.
        const int batch = 2, heads = 3, seq = 5;
        int half = r / 2, rows = batch * heads * seq;
        var x = Values(rows * d, 12);
        var cos = Values(batch * seq * half, 13, -1f, 1f); var sin = Values(batch * seq * half, 14, -1f, 1f);
        using var bx = _h.Bytes(x); using var bc = _h.Bytes(cos); using var bs = _h.Bytes(sin); using var bd = _h.Zeros<byte>(rows * d * 4);
        var tab = Layout(ElementCodes.F32, 0, [batch, heads, seq], [seq * half, 0, half]);
        _h.Launch(typeof(RopeKernels), nameof(RopeKernels.Rows), grid: 4, group: 4,
            bx.View, Layout(ElementCodes.F32, 0, [rows], [d]), 1L, bd.View, Layout(ElementCodes.F32, 0, [rows], [d]), 1L,
            bc.View, tab, 1L, bs.View, tab, 1L, (long)rows, d, half, mode);
        var rm = mode == RopeKernels.RotateHalf ? RopeMode.RotateHalf : RopeMode.Interleaved;
        var want = new List<double>();
        for (int b = 0; b < batch; b++)
        {
            int per = heads * seq * d, tpb = seq * half;
            var xb = Nd([heads, seq, d], x[(b * per)..((b + 1) * per)]);
            want.AddRange(NaiveOps.Rope(xb, Nd([seq, half], cos[(b * tpb)..((b + 1) * tpb)]), Nd([seq, half], sin[(b * tpb)..((b + 1) * tpb)]), rm).Data);
        }
        AssertClose([.. want], _h.F32(bd, rows * d));
    }
}
