using System.Numerics.Tensors;

namespace Tessera.Cpu;

// Strided copy with dtype conversion, and fill. The fast paths are a contiguous last axis of
// f32/f16/bf16; everything else goes through doubles one element at a time.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Copy(Tensor src, Tensor dst)
    {
        Check(src.Shape.Equals(dst.Shape), $"copy: source {src.Shape} and destination {dst.Shape} differ in shape");
        if (src.DType.IsBlock() || dst.DType.IsBlock())
        {
            Check(src.DType == dst.DType && src.IsContiguous && dst.IsContiguous,
                $"copy {src.DType.Name()} {src.Shape} to {dst.DType.Name()} {dst.Shape}: block types copy only contiguously and unconverted");
            long bytes = src.DType.ByteCount(src.ElementCount);
            Buffer.MemoryCopy(Ptr(src), Ptr(dst), bytes, bytes);
            return;
        }
        if (src.ElementCount == 0) return;
        int n = src.Shape.Rank == 0 ? 1 : src.Shape[-1];
        if (src.Rank >= 1 && src.Strides[^1] == 1 && dst.Strides[^1] == 1 && src.ElementCount <= SmallRowsElements)
        {
            // A decode step's K/V rows into the cache (f32, or rounded to an f16 cache): row copies on this thread,
            // without the strided driver.
            byte* sb = Ptr(src), db = Ptr(dst);
            int ses = ElementSize(src.DType), des = ElementSize(dst.DType);
            long rows = src.ElementCount / n;
            for (long r = 0; r < rows; r++) CopyRow(sb + RowOffset(src, r) * ses, src.DType, 1, db + RowOffset(dst, r) * des, dst.DType, 1, n);
            return;
        }
        long sInner = src.Rank == 0 ? 1 : src.Strides[^1], dInner = dst.Rank == 0 ? 1 : dst.Strides[^1];
        var idx = new StridedIndex(src.Shape, src, dst);
        byte* sBase = Ptr(src), dBase = Ptr(dst);
        int ss = ElementSize(src.DType), ds = ElementSize(dst.DType);
        DType st = src.DType, dt = dst.DType;
        CpuParallel.For(idx.Rows, Threads, Math.Max(1, 32768 / n), (r0, r1) =>
        {
            Span<long> off = stackalloc long[2];
            for (long r = r0; r < r1; r++)
            {
                idx.Offsets(r, off);
                CopyRow(sBase + off[0] * ss, st, sInner, dBase + off[1] * ds, dt, dInner, n);
            }
        });
    }

    private static void CopyRow(byte* s, DType st, long sStride, byte* d, DType dt, long dStride, int n)
    {
        if (sStride == 1 && dStride == 1)
        {
            if (st == dt) { Buffer.MemoryCopy(s, d, (long)n * ElementSize(st), (long)n * ElementSize(st)); return; }
            if (st == DType.F32 && dt == DType.F16) { TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(s, n), new Span<Half>(d, n)); return; }
            if (st == DType.F16 && dt == DType.F32) { TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(s, n), new Span<float>(d, n)); return; }
            if (st == DType.BF16 && dt == DType.F32) { Bf16.ToF32((ushort*)s, (float*)d, n); return; }
            if (st == DType.F32 && dt == DType.BF16) { Bf16.FromF32((float*)s, (ushort*)d, n); return; }
        }
        if (st == dt && st == DType.F32)
        {
            float* sf = (float*)s, df = (float*)d;
            for (int i = 0; i < n; i++) df[i * dStride] = sf[i * sStride];
            return;
        }
        int ss = ElementSize(st), ds = ElementSize(dt);
        for (int i = 0; i < n; i++) Elements.Write(d + i * dStride * ds, dt, Elements.Read(s + i * sStride * ss, st));
    }

    /// <inheritdoc/>
    public void Fill(Tensor dst, double value)
    {
        Check(!dst.DType.IsBlock(), $"fill of a {dst.DType.Name()} tensor");
        if (dst.ElementCount == 0) return;
        int n = dst.Rank == 0 ? 1 : dst.Shape[-1];
        long inner = dst.Rank == 0 ? 1 : dst.Strides[^1];
        int es = ElementSize(dst.DType);
        var idx = new StridedIndex(dst.Shape, dst);
        byte* b = Ptr(dst);
        DType t = dst.DType;
        Span<long> off = stackalloc long[1];
        for (long r = 0; r < idx.Rows; r++)
        {
            idx.Offsets(r, off);
            byte* row = b + off[0] * es;
            if (t == DType.F32 && inner == 1) new Span<float>(row, n).Fill((float)value);
            else for (int i = 0; i < n; i++) Elements.Write(row + i * inner * es, t, value);
        }
    }
}
