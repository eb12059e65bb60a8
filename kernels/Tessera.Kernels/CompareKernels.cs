using ILGPU;

namespace Tessera.Kernels;

// Comparison and selection, element by element: Compare writes 1 or 0 (u8) for a op b; Where takes a where the u8
// condition is nonzero and b elsewhere. Reference: CpuBackend.Compare / CpuBackend.Where and the naive references
// of the tests.
//
// Design: the strided element-wise shape of ElementwiseKernels (a grid-stride loop over the flat output index, one
// StridedLayout per operand, stride 0 for a broadcast axis, up to 6 merged dimensions). Compare reads float dtypes
// as float and integer dtypes as long, so i64 ids past 2^53 still compare exactly; NaN follows IEEE 754 (every
// comparison with NaN is false except NotEqual). Where copies raw element bits (1, 2, 4 or 8 bytes), so every plain
// dtype works and values pass through unchanged. The op is a uniform runtime argument (an if-chain: no switch at O1).
public static class CompareKernels
{
    /// <summary>The values of Tessera's CompareOp (checked by a test).</summary>
    public const int Equal = 0, NotEqual = 1, Less = 2, LessOrEqual = 3, Greater = 4, GreaterOrEqual = 5;

    private static long First() => (long)Grid.IdxX * Group.DimX + Group.IdxX;
    private static long Step() => (long)Grid.DimX * Group.DimX;

    private static bool Test(int op, bool lt, bool eq, bool gt)
    {
        if (op == Equal) return eq;
        if (op == NotEqual) return !eq;
        if (op == Less) return lt;
        if (op == LessOrEqual) return lt || eq;
        if (op == Greater) return gt;
        return gt || eq; // GreaterOrEqual
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.Compare")]
    public static void Compare(ArrayView<byte> a, StridedLayout al, ArrayView<byte> b, StridedLayout bl,
        ArrayView<byte> dst, StridedLayout dl, long n, int op)
    {
        bool floats = al.DType <= ElementCodes.BF16;
        for (long i = First(); i < n; i += Step())
        {
            long ai = al.OffsetOf(i), bi = bl.OffsetOf(i);
            bool lt, eq, gt;
            if (floats)
            {
                float va = ElementIO.LoadF(a, al.DType, ai), vb = ElementIO.LoadF(b, bl.DType, bi);
                lt = va < vb; eq = va == vb; gt = va > vb;
            }
            else
            {
                long va = LoadL(a, al.DType, ai), vb = LoadL(b, bl.DType, bi);
                lt = va < vb; eq = va == vb; gt = va > vb;
            }
            dst[dl.OffsetOf(i)] = Test(op, lt, eq, gt) ? (byte)1 : (byte)0;
        }
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.Where")]
    public static void Where(ArrayView<byte> cond, StridedLayout cl, ArrayView<byte> a, StridedLayout al, ArrayView<byte> b, StridedLayout bl,
        ArrayView<byte> dst, StridedLayout dl, long n)
    {
        int size = ElementIO.SizeOf(dl.DType);
        for (long i = First(); i < n; i += Step())
        {
            long di = dl.OffsetOf(i);
            if (cond[cl.OffsetOf(i)] != 0) ElementIO.CopyRaw(a, al.OffsetOf(i), dst, di, size);
            else ElementIO.CopyRaw(b, bl.OffsetOf(i), dst, di, size);
        }
    }

    /// <summary>An integer element (i8, u8, i32, i64) as a long, exactly.</summary>
    private static long LoadL(ArrayView<byte> buf, int dtype, long i)
    {
        if (dtype == ElementCodes.I64) return buf.Cast<long>()[i];
        if (dtype == ElementCodes.I32) return buf.Cast<int>()[i];
        if (dtype == ElementCodes.I8) return (sbyte)buf[i];
        return buf[i];
    }
}
