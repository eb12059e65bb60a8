using System.Numerics;
using System.Runtime.CompilerServices;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// Compare and Where: element-wise ops over operands already broadcast to dst's shape (any strides), one last-axis
// row at a time, rows split over threads. Float operands are compared as f32 (f16 and bf16 widen exactly),
// integer operands as 64-bit integers (an i64 above 2^53 would not survive a trip through double or f32).
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Compare(CompareOp op, Tensor a, Tensor b, Tensor dst)
    {
        Check(a.DType == b.DType && !a.DType.IsBlock() && dst.DType == DType.U8 && dst.IsContiguous
              && a.Shape.Equals(dst.Shape) && b.Shape.Equals(dst.Shape),
            $"compare {op}: a {a.DType.Name()} {a.Shape} and b {b.DType.Name()} {b.Shape} must share a plain dtype and dst's shape, dst {dst.DType.Name()} {dst.Shape} contiguous u8");
        if (dst.ElementCount == 0) return;
        int n = dst.Rank == 0 ? 1 : dst.Shape[-1];
        long aIn = Inner(a, false), bIn = Inner(b, false);
        var idx = new StridedIndex(dst.Shape, a, b);
        byte* ab = Ptr(a), bb = Ptr(b), db = Ptr(dst);
        DType t = a.DType;
        int es = ElementSize(t);
        bool isFloat = t.IsFloat();
        CpuParallel.For(idx.Rows, Threads, Math.Max(1, 32768 / n), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (r0, r1) =>
        {
            using var bufA = new Scratch(isFloat ? n : 2L * n);
            using var bufB = new Scratch(isFloat ? n : 2L * n);
            Span<long> off = stackalloc long[2];
            for (long r = r0; r < r1; r++)
            {
                idx.Offsets(r, off);
                byte* pa = ab + off[0] * es, pb = bb + off[1] * es, d = db + r * n;
                if (isFloat)
                    CompareRow(op, RowIo.Load(pa, t, aIn, n, bufA.P), RowIo.Load(pb, t, bIn, n, bufB.P), d, n);
                else
                    CompareRow(op, LoadIntegers(pa, t, aIn, n, (long*)bufA.P), LoadIntegers(pb, t, bIn, n, (long*)bufB.P), d, n);
            }
        });
    }

    // IEEE comparisons: every one with NaN is false but NotEqual.
    private static void CompareRow<T>(CompareOp op, T* a, T* b, byte* d, int n) where T : unmanaged, IComparisonOperators<T, T, bool>
    {
        switch (op)
        {
            case CompareOp.Equal: for (int i = 0; i < n; i++) d[i] = a[i] == b[i] ? (byte)1 : (byte)0; break;
            case CompareOp.NotEqual: for (int i = 0; i < n; i++) d[i] = a[i] != b[i] ? (byte)1 : (byte)0; break;
            case CompareOp.Less: for (int i = 0; i < n; i++) d[i] = a[i] < b[i] ? (byte)1 : (byte)0; break;
            case CompareOp.LessOrEqual: for (int i = 0; i < n; i++) d[i] = a[i] <= b[i] ? (byte)1 : (byte)0; break;
            case CompareOp.Greater: for (int i = 0; i < n; i++) d[i] = a[i] > b[i] ? (byte)1 : (byte)0; break;
            case CompareOp.GreaterOrEqual: for (int i = 0; i < n; i++) d[i] = a[i] >= b[i] ? (byte)1 : (byte)0; break;
            default: throw new TesseraException($"unknown comparison {op}");
        }
    }

    // n integers of any integer dtype (element stride `stride`, 0 repeats one) widened to 64 bits.
    private static long* LoadIntegers(byte* p, DType t, long stride, int n, long* buf)
    {
        if (t == DType.I64 && stride == 1) return (long*)p;
        int es = ElementSize(t);
        for (int i = 0; i < n; i++) buf[i] = ReadInteger(p + i * stride * es, t);
        return buf;
    }

    internal static long ReadInteger(byte* p, DType t) => t switch
    {
        DType.I8 => *(sbyte*)p,
        DType.U8 => *p,
        DType.I32 => *(int*)p,
        DType.I64 => *(long*)p,
        _ => throw new TesseraException($"{t.Name()} is not an integer type"),
    };

    /// <inheritdoc/>
    public void Where(Tensor condition, Tensor a, Tensor b, Tensor dst)
    {
        Check(condition.DType == DType.U8 && a.DType == dst.DType && b.DType == dst.DType && !dst.DType.IsBlock() && dst.IsContiguous
              && condition.Shape.Equals(dst.Shape) && a.Shape.Equals(dst.Shape) && b.Shape.Equals(dst.Shape),
            $"where: condition {condition.DType.Name()} {condition.Shape} must be u8, a {a.DType.Name()} {a.Shape} and b {b.DType.Name()} {b.Shape} of dst's dtype, all of dst's shape {dst.Shape}");
        if (dst.ElementCount == 0) return;
        int n = dst.Rank == 0 ? 1 : dst.Shape[-1];
        long cIn = Inner(condition, false), aIn = Inner(a, false), bIn = Inner(b, false);
        var idx = new StridedIndex(dst.Shape, condition, a, b);
        byte* cb = Ptr(condition), ab = Ptr(a), bb = Ptr(b), db = Ptr(dst);
        int es = ElementSize(dst.DType);
        CpuParallel.For(idx.Rows, Threads, Math.Max(1, 32768 / n), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (r0, r1) =>
        {
            Span<long> off = stackalloc long[3];
            for (long r = r0; r < r1; r++)
            {
                idx.Offsets(r, off);
                byte* c = cb + off[0], pa = ab + off[1] * es, pb = bb + off[2] * es, d = db + r * n * es;
                switch (es)
                {
                    case 1: WhereRow(c, cIn, pa, aIn, pb, bIn, d, n); break;
                    case 2: WhereRow(c, cIn, (ushort*)pa, aIn, (ushort*)pb, bIn, (ushort*)d, n); break;
                    case 4: WhereRow(c, cIn, (uint*)pa, aIn, (uint*)pb, bIn, (uint*)d, n); break;
                    default: WhereRow(c, cIn, (ulong*)pa, aIn, (ulong*)pb, bIn, (ulong*)d, n); break;
                }
            }
        });
    }

    // Moves bits, not values: a NaN payload or a -0 is passed through exactly.
    private static void WhereRow<T>(byte* c, long cs, T* a, long sa, T* b, long sb, T* d, int n) where T : unmanaged
    {
        for (int i = 0; i < n; i++) d[i] = c[i * cs] != 0 ? a[i * sa] : b[i * sb];
    }
}
