using ILGPU;

namespace Tessera.Kernels;

// Reductions over one axis: sum, mean, max, min, argmax. Reference: NaiveOps.Reduce (tests/Tessera.Tests/Reference)
// and CpuBackend.Reduce.cs, with its rules: max and min propagate NaN; argmax is the index of the first maximum,
// NaN counting as larger than every number (the first NaN wins); the result of argmax is i32.
//
// x is seen as [outputs, len]: a StridedLayout maps each output index to the offset of its first input element
// (x narrowed to the reduced axis), and the reduced axis has its own stride. Two shapes:
// - Rows: the reduced axis is the innermost one (inner == 1); one block of 256 threads per output, threads striding
//   along the axis, then a block reduction of (value, index) pairs through warp shuffles and shared memory;
// - Columns: inner > 1; one thread per output walks the axis, so neighbouring threads read neighbouring inner
//   elements (coalesced) and no reduction between threads is needed.
public static class ReduceKernels
{
    public const int Sum = 0, Mean = 1, Max = 2, Min = 3, ArgMax = 4;

    private static float Start(int op) =>
        op == Max || op == ArgMax ? float.NegativeInfinity : op == Min ? float.PositiveInfinity : 0f;

    /// <summary>Whether (b, ib) replaces (a, ia) as the running result of op.</summary>
    private static bool Takes(int op, float a, int ia, float b, int ib)
    {
        bool na = ElementMath.IsNaN(a), nb = ElementMath.IsNaN(b);
        if (op == ArgMax)
        {
            if (na || nb) return nb && (!na || ib < ia);
            return b > a || (b == a && ib < ia);
        }
        if (na) return false;
        if (nb) return true;
        return op == Max ? b > a : b < a;
    }

    private static void Combine(int op, ref float acc, ref int arg, float v, int i)
    {
        if (op == Sum || op == Mean) acc += v;
        else if (Takes(op, acc, arg, v, i)) { acc = v; arg = i; }
    }

    private static void Write(ArrayView<byte> dst, StridedLayout dl, long o, int op, float acc, int arg, int len)
    {
        long at = dl.OffsetOf(o);
        if (op == ArgMax) dst.Cast<int>()[at] = arg;
        else ElementIO.StoreF(dst, dl.DType, at, op == Mean ? acc / len : acc);
    }

    [Kernel(BlockX = 256, Reference = "NaiveOps.Reduce; CpuBackend.Reduce")]
    public static void Columns(ArrayView<byte> x, StridedLayout xl, long xAxis, ArrayView<byte> dst, StridedLayout dl, long outputs, int len, int op)
    {
        for (long o = (long)Grid.IdxX * Group.DimX + Group.IdxX; o < outputs; o += (long)Grid.DimX * Group.DimX)
        {
            long at = xl.OffsetOf(o);
            float acc = Start(op);
            int arg = 0;
            for (int i = 0; i < len; i++) Combine(op, ref acc, ref arg, ElementIO.LoadF(x, xl.DType, at + i * xAxis), i);
            Write(dst, dl, o, op, acc, arg, len);
        }
    }

    [Kernel(BlockX = 256, Reference = "NaiveOps.Reduce; CpuBackend.Reduce")]
    public static void Rows(ArrayView<byte> x, StridedLayout xl, long xAxis, ArrayView<byte> dst, StridedLayout dl, long outputs, int len, int op)
    {
        var vals = SharedMemory.Allocate<float>(32);
        var args = SharedMemory.Allocate<int>(32);
        int tid = Group.IdxX;
        for (long o = Grid.IdxX; o < outputs; o += Grid.DimX)
        {
            long at = xl.OffsetOf(o);
            float acc = Start(op);
            int arg = 0;
            for (int i = tid; i < len; i += Group.DimX) Combine(op, ref acc, ref arg, ElementIO.LoadF(x, xl.DType, at + i * xAxis), i);
            WarpCombine(op, ref acc, ref arg);
            if (Warp.LaneIdx == 0) { vals[Warp.WarpIdx] = acc; args[Warp.WarpIdx] = arg; }
            Group.Barrier();
            int warps = (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
            acc = Warp.LaneIdx < warps ? vals[Warp.LaneIdx] : Start(op);
            arg = Warp.LaneIdx < warps ? args[Warp.LaneIdx] : 0;
            WarpCombine(op, ref acc, ref arg);
            if (tid == 0) Write(dst, dl, o, op, acc, arg, len);
            Group.Barrier();
        }
    }

    // Butterfly over the warp; the index of the first maximum wins ties, so lane order does not matter.
    private static void WarpCombine(int op, ref float acc, ref int arg)
    {
        Step(op, ref acc, ref arg, 16);
        Step(op, ref acc, ref arg, 8);
        Step(op, ref acc, ref arg, 4);
        Step(op, ref acc, ref arg, 2);
        Step(op, ref acc, ref arg, 1);
    }

    private static void Step(int op, ref float acc, ref int arg, int mask)
    {
        float v = Warp.ShuffleXor(acc, mask);
        int i = Warp.ShuffleXor(arg, mask);
        if (op == Sum || op == Mean) acc += v;
        else if (Takes(op, acc, arg, v, i)) { acc = v; arg = i; }
    }
}
