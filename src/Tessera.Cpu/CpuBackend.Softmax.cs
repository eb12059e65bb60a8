using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>dst = softmax over the last axis of x * scale + mask, computed in f32 with the row maximum
    /// subtracted first. The mask (x's shape, possibly a stride-0 broadcast view) may hold -inf. A row whose
    /// every logit is -inf (fully masked) has no defined softmax; this backend writes zeros for it, so that a
    /// masked-out query contributes nothing downstream instead of spreading NaN. NaN inputs give NaN rows.</summary>
    public void Softmax(Tensor x, Tensor? mask, float scale, Tensor dst)
    {
        Check(x.Shape.Equals(dst.Shape) && x.Rank >= 1 && x.DType.IsFloat() && dst.DType.IsFloat(),
            $"softmax: x {x.DType.Name()} {x.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float tensors of one shape");
        Check(mask is null || (mask.Shape.Equals(x.Shape) && mask.DType.IsFloat()),
            $"softmax: mask {mask?.DType.Name()} {mask?.Shape} must have x's shape {x.Shape}");
        if (x.ElementCount == 0) return;
        int n = x.Shape[-1];
        long xIn = x.Strides[^1], mIn = mask?.Strides[^1] ?? 0, dIn = dst.Strides[^1];
        var idx = mask is null ? new StridedIndex(x.Shape, x, dst) : new StridedIndex(x.Shape, x, mask, dst);
        byte* xb = Ptr(x), mb = mask is null ? null : Ptr(mask), db = Ptr(dst);
        DType xt = x.DType, mt = mask?.DType ?? x.DType, dt = dst.DType;
        int xes = ElementSize(xt), mes = ElementSize(mt), des = ElementSize(dt);
        bool direct = RowIo.IsDirectF32(dt, dIn);

        CpuParallel.For(idx.Rows, Threads, Math.Max(1, 16384 / n), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (r0, r1) =>
        {
            using var bx = new Scratch(n);
            using var bm = new Scratch(n);
            using var bd = new Scratch(n);
            Span<long> off = stackalloc long[3];
            for (long r = r0; r < r1; r++)
            {
                idx.Offsets(r, off);
                float* px = RowIo.Load(xb + off[0] * xes, xt, xIn, n, bx.P);
                byte* pd = db + off[mb is null ? 1 : 2] * des;
                float* d = direct ? (float*)pd : bd.P;
                if (mb is null) SoftmaxRow.Run(px, null, 0, scale, d, n);
                else if (mIn == 0) { float m = RowIo.LoadOne(mb + off[1] * mes, mt); SoftmaxRow.Run(px, &m, 0, scale, d, n); }
                else SoftmaxRow.Run(px, RowIo.Load(mb + off[1] * mes, mt, mIn, n, bm.P), 1, scale, d, n);
                if (!direct) RowIo.Store(d, pd, dt, dIn, n);
            }
        });
    }
}
