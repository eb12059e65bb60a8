using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>GatherKernels and ReduceKernels on the CPU accelerator against NaiveOps.Gather and NaiveOps.Reduce.</summary>
public sealed class GatherReduceKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    [Theory]
    [InlineData(ElementCodes.I32)] [InlineData(ElementCodes.I64)]
    public void Gather_copies_rows_of_a_strided_table_for_transposed_ids(int idType)
    {
        // table [V=11, D=37] as a column-major view (row stride 1, column stride 11) from element 2;
        // ids [3, 4] stored transposed ([4, 3] in memory).
        const int v = 11, d = 37;
        var buf = Values(2 + v * d, 1);
        long[] idsMem = [.. Enumerable.Range(0, 12).Select(i => (long)((i * 7 + 3) % v))];
        using var bt = _h.Bytes(buf);
        using var bi = idType == ElementCodes.I64 ? _h.Bytes(idsMem) : _h.Bytes(idsMem.Select(i => (int)i).ToArray());
        using var bd = _h.Zeros<byte>(12 * d * 4); using var err = _h.Zeros<long>(2);
        _h.Launch(typeof(GatherKernels), nameof(GatherKernels.Rows), grid: 5, group: 8,
            bt.View, 2L, 1L, (long)v, 4, (long)v, d, bi.View, Layout(idType, 0, [3, 4], [1, 3]), 12L, bd.View, 0L, err.View);
        var table = new Nd([v, d], [.. Enumerable.Range(0, v * d).Select(i => (double)buf[2 + i % d * v + i / d])]);
        var ids = new Nd([3, 4], [.. Enumerable.Range(0, 12).Select(i => (double)idsMem[i % 4 * 3 + i / 4])]);
        Assert.Equal(NaiveOps.Gather(table, ids).Data, _h.F32(bd, 12 * d).Select(f => (double)f));
        Assert.Equal([0L, 0L], _h.Download(err));
    }

    [Fact]
    public void Gather_clamps_and_flags_an_out_of_range_id()
    {
        var table = Values(4 * 3, 2);
        using var bt = _h.Bytes(table); using var bi = _h.Bytes(new[] { 1, 9, 0 });
        using var bd = _h.Zeros<byte>(9 * 4); using var err = _h.Zeros<long>(2);
        _h.Launch(typeof(GatherKernels), nameof(GatherKernels.Rows), grid: 3, group: 4,
            bt.View, 0L, 3L, 1L, 4, 4L, 3, bi.View, Layout(ElementCodes.I32, 0, [3], [1]), 3L, bd.View, 0L, err.View);
        Assert.Equal([2L, 9L], _h.Download(err)); // position 1 (+1), id 9
        Assert.Equal(table[9..12], _h.F32(bd, 9)[3..6]); // clamped to the last row, nothing read outside
    }

    public static TheoryData<int, int> Cases()
    {
        var d = new TheoryData<int, int>();
        foreach (int op in new[] { ReduceKernels.Sum, ReduceKernels.Mean, ReduceKernels.Max, ReduceKernels.Min, ReduceKernels.ArgMax })
            for (int axis = 0; axis < 3; axis++) d.Add(op, axis);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reduce_over_each_axis_of_a_3d_tensor(int op, int axis)
    {
        int[] shape = [5, 37, 6];
        var x = Values(5 * 37 * 6, 3 + op);
        x[40] = x[41]; // a tie
        // The launch mirrors the host: x narrowed to the axis gives the output layout; Rows when the axis is last.
        var outShape = (int[])shape.Clone(); outShape[axis] = 1;
        long[] xs = [37 * 6, 6, 1];
        long[] ds = [outShape[1] * outShape[2], outShape[2], 1];
        int outputs = outShape.Aggregate(1, (a, b) => a * b);
        using var bx = _h.Bytes(x); using var bd = _h.Zeros<byte>(outputs * 4);
        string kernel = axis == 2 ? nameof(ReduceKernels.Rows) : nameof(ReduceKernels.Columns);
        int dt = op == ReduceKernels.ArgMax ? ElementCodes.I32 : ElementCodes.F32;
        _h.Launch(typeof(ReduceKernels), kernel, grid: 3, group: axis == 2 ? 64 : 16,
            bx.View, Layout(ElementCodes.F32, 0, outShape, xs), xs[axis], bd.View, Layout(dt, 0, outShape, ds), (long)outputs, shape[axis], op);
        var want = NaiveOps.Reduce((ReduceOp)op, Nd(shape, x), axis, keepDim: true);
        var raw = _h.Download(bd);
        if (op == ReduceKernels.ArgMax)
            Assert.Equal(want.Data, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(raw)[..outputs].ToArray().Select(i => (double)i));
        else AssertClose(want.Data, _h.F32(bd, outputs));
    }

    [Fact]
    public void Max_propagates_nan_and_argmax_returns_the_first_nan()
    {
        var x = Values(2 * 40, 9);
        x[7] = float.NaN; x[9] = float.NaN;
        using var bx = _h.Bytes(x); using var bm = _h.Zeros<byte>(8); using var ba = _h.Zeros<byte>(8);
        foreach (var (op, buf, dt) in new[] { (ReduceKernels.Max, bm, ElementCodes.F32), (ReduceKernels.ArgMax, ba, ElementCodes.I32) })
            _h.Launch(typeof(ReduceKernels), nameof(ReduceKernels.Rows), grid: 1, group: 64,
                bx.View, Layout(ElementCodes.F32, 0, [2], [40]), 1L, buf.View, Layout(dt, 0, [2], [1]), 2L, 40, op);
        var max = _h.F32(bm, 2);
        Assert.True(float.IsNaN(max[0]));
        Assert.Equal(x[40..].Max(), max[1]);
        Assert.Equal(7, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(_h.Download(ba))[0]);
    }
}
