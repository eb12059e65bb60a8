using System.Runtime.CompilerServices;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// Element-wise ops. One driver walks dst in pieces of at most ChunkElements along the last axis (the whole
// tensor is one long row when every operand is contiguous), loads each operand's piece as contiguous f32
// (or notes that it is one broadcast value), runs an f32 kernel from Kernels/VectorMath and converts the
// result into dst. Pieces are split over threads, so long rows parallelise as well as many short ones.
public sealed unsafe partial class CpuBackend
{
    private const int ChunkElements = 4096;

    // The f32 kernel of one piece: operands a and b with element stride sa, sb in {0, 1}, output d (contiguous).
    private delegate void PieceKernel(float* a, int sa, float* b, int sb, float* d, int n);

    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor x, Tensor dst)
    {
        CheckElementwise(op.ToString(), dst, x);
        Elementwise(dst, x, null, (a, sa, _, _, d, n) =>
        {
            if (sa == 1) { VectorMath.Apply(op, a, d, n); return; }
            new Span<float>(d, n).Fill(VectorMath.Apply(op, *a));
        });
    }

    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst)
    {
        CheckElementwise(op.ToString(), dst, a, b);
        Elementwise(dst, a, b, (pa, sa, pb, sb, d, n) => VectorMath.Apply(op, pa, sa, pb, sb, d, n));
    }

    /// <inheritdoc/>
    public void Affine(Tensor x, Tensor dst, double mul, double add)
    {
        CheckElementwise("affine", dst, x);
        float m = (float)mul, c = (float)add;
        Elementwise(dst, x, null, (a, sa, _, _, d, n) =>
        {
            if (sa == 1) { VectorMath.Affine(a, d, n, m, c); return; }
            new Span<float>(d, n).Fill(MathF.FusedMultiplyAdd(*a, m, c));
        });
    }

    private static void CheckElementwise(string op, Tensor dst, params Tensor[] inputs)
    {
        Check(dst.DType.IsFloat(), $"{op}: floating-point tensors only, got {dst.DType.Name()} {dst.Shape}");
        foreach (var t in inputs)
            Check(t.Shape.Equals(dst.Shape) && t.DType.IsFloat(),
                $"{op}: input {t.DType.Name()} {t.Shape} does not match the output {dst.DType.Name()} {dst.Shape}");
    }

    private void Elementwise(Tensor dst, Tensor a, Tensor? b, PieceKernel kernel)
    {
        long total = dst.ElementCount;
        if (total == 0) return;
        bool flat = dst.IsContiguous && a.IsContiguous && (b is null || b.IsContiguous);
        long rowLen = flat || dst.Rank == 0 ? (flat ? total : 1) : dst.Shape[-1];
        long rows = total / rowLen;
        long aIn = Inner(a, flat), bIn = b is null ? 0 : Inner(b, flat), dIn = Inner(dst, flat);
        var idx = flat ? default : (b is null ? new StridedIndex(dst.Shape, a, dst) : new StridedIndex(dst.Shape, a, b, dst));
        long perRow = (rowLen + ChunkElements - 1) / ChunkElements;
        byte* aBase = Ptr(a), bBase = b is null ? null : Ptr(b), dBase = Ptr(dst);
        DType at = a.DType, bt = b?.DType ?? a.DType, dt = dst.DType;
        int aes = ElementSize(at), bes = ElementSize(bt), des = ElementSize(dt);
        bool direct = RowIo.IsDirectF32(dt, dIn);
        long pieceLen = Math.Min(rowLen, ChunkElements);

        CpuParallel.For(rows * perRow, Threads, Math.Max(1, 32768 / pieceLen), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (p0, p1) =>
        {
            float* bufA = stackalloc float[ChunkElements];
            float* bufB = stackalloc float[ChunkElements];
            float* bufD = stackalloc float[ChunkElements];
            Span<long> off = stackalloc long[3];
            for (long p = p0; p < p1; p++)
            {
                long r = p / perRow, c0 = p % perRow * ChunkElements;
                int n = (int)Math.Min(ChunkElements, rowLen - c0);
                long oa, ob, od;
                if (flat) { oa = ob = od = c0; }
                else
                {
                    idx.Offsets(r, off);
                    oa = off[0] + c0 * aIn;
                    ob = b is null ? 0 : off[1] + c0 * bIn;
                    od = off[b is null ? 1 : 2] + c0 * dIn;
                }
                float* pa = PieceOperand(aBase + oa * aes, at, aIn, n, bufA, out int sa);
                float* pb = bBase is null ? pa : PieceOperand(bBase + ob * bes, bt, bIn, n, bufB, out int sbTmp);
                int sb = bBase is null ? sa : (bIn == 0 ? 0 : 1);
                byte* pd = dBase + od * des;
                float* d = direct ? (float*)pd : bufD;
                kernel(pa, sa, pb, sb, d, n);
                if (!direct) RowIo.Store(d, pd, dt, dIn, n);
            }
        });
    }

    // An operand's piece: one value (stride 0) for a broadcast inner axis, else a contiguous f32 run.
    private static float* PieceOperand(byte* p, DType t, long inner, int n, float* buf, out int stride)
    {
        if (inner == 0)
        {
            *buf = RowIo.LoadOne(p, t);
            stride = 0;
            return buf;
        }
        stride = 1;
        return RowIo.Load(p, t, inner, n, buf);
    }

    private static long Inner(Tensor t, bool flat) => flat || t.Rank == 0 ? 1 : t.Strides[^1];
}
