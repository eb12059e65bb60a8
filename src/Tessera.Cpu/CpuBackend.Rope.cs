using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// Rotary position embedding. x [..., S, D] may be any strided view (for example [B, S, H, D] permuted to
// [B, H, S, D]); each row along D is rotated by the angles of its position s (axis -2) in the f32 tables
// cos and sin [S, R/2], or by its own row of batched tables [..., S, R/2] (per-sequence positions);
// channels R..D pass through unchanged.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Rope(Tensor x, Tensor cos, Tensor sin, RopeMode mode, Tensor dst)
    {
        Check(x.Rank >= 2 && x.Shape.Equals(dst.Shape) && x.DType.IsFloat() && dst.DType.IsFloat(),
            $"rope: x {x.DType.Name()} {x.Shape} and dst {dst.DType.Name()} {dst.Shape} must be float tensors of one shape [..., S, D]");
        int s = x.Shape[-2], d = x.Shape[-1];
        bool batched = cos.Rank == x.Rank && x.Rank > 2;
        Check(cos.Shape.Equals(sin.Shape) && (cos.Rank == 2 || (batched && cos.Shape.Equals(x.Shape.With(-1, cos.Shape[-1]))))
              && cos.Shape[-2] == s && 2 * cos.Shape[-1] <= d,
            $"rope: x {x.Shape} needs cos and sin [S={s}, R/2] or [..., S, R/2] with x's leading axes and R <= {d}, got {cos.Shape} and {sin.Shape}");
        if (x.ElementCount == 0) return;
        int half = cos.Shape[-1];
        // Batched tables are usually stride-0 views of [B, 1, S, R/2]: read in place through their strides when
        // they are f32 rows, rather than materialising x's leading shape.
        bool inPlace = batched && cos.DType == DType.F32 && sin.DType == DType.F32 && cos.Strides[^1] == 1 && sin.Strides[^1] == 1;
        using var c32 = inPlace ? cos.Share() : AsF32(cos);
        using var s32 = inPlace ? sin.Share() : AsF32(sin);
        float* pc = Ptr<float>(c32), ps = Ptr<float>(s32);
        var tables = batched ? new StridedIndex(c32.Shape, c32, s32) : default;
        MapRows(x, dst, (r, px, o, n) =>
        {
            float* c, sn;
            if (batched)
            {
                Span<long> off = stackalloc long[2];
                tables.Offsets(r, off); // x's and the tables' leading shapes are one, so row r is the same row
                c = pc + off[0];
                sn = ps + off[1];
            }
            else
            {
                long pos = r % s; // rows run over [..., S] in row-major order, so S varies fastest
                c = pc + pos * half;
                sn = ps + pos * half;
            }
            RopeRow(px, o, c, sn, half, n, mode);
        });
    }

    // One row: the first 2 * half channels rotated, the rest passed through.
    private static void RopeRow(float* x, float* o, float* c, float* s, int half, int n, RopeMode mode)
    {
        if (mode == RopeMode.RotateHalf) RotateHalf(x, o, c, s, half);
        else RotateInterleaved(x, o, c, s, half);
        if (2 * half < n) Buffer.MemoryCopy(x + 2 * half, o + 2 * half, (n - 2L * half) * 4, (n - 2L * half) * 4);
    }

    // out[i] = x[i] cos - x[i+h] sin; out[i+h] = x[i+h] cos + x[i] sin, for i < h.
    private static void RotateHalf(float* x, float* o, float* c, float* s, int h)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) RotateHalf<Vector512<float>, V512>(x, o, c, s, h, ref i);
        else if (Vector256.IsHardwareAccelerated) RotateHalf<Vector256<float>, V256>(x, o, c, s, h, ref i);
        RotateHalf<float, V1>(x, o, c, s, h, ref i);
    }

    private static void RotateHalf<TV, S>(float* x, float* o, float* c, float* s, int h, ref int i) where TV : struct where S : ISimd<TV>
    {
        for (; i <= h - S.Count; i += S.Count)
        {
            TV x1 = S.Load(x + i), x2 = S.Load(x + h + i), vc = S.Load(c + i), vs = S.Load(s + i);
            S.Store(S.Sub(S.Mul(x1, vc), S.Mul(x2, vs)), o + i);
            S.Store(S.Fma(x1, vs, S.Mul(x2, vc)), o + h + i);
        }
    }

    // out[2i] = x[2i] cos - x[2i+1] sin; out[2i+1] = x[2i+1] cos + x[2i] sin. The vector paths duplicate each
    // cos/sin into both lanes of its pair and swap the pair's lanes with one permute.
    private static void RotateInterleaved(float* x, float* o, float* c, float* s, int h)
    {
        int i = 0; // pair index
        if (Avx512F.IsSupported)
        {
            var dup = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
            var swap = Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
            var sign = Vector512.Create(-1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f);
            for (; i <= h - 8; i += 8)
            {
                var xv = Vector512.Load(x + 2 * i);
                var cv = Avx512F.PermuteVar16x32(Vector256.Load(c + i).ToVector512Unsafe(), dup);
                var sv = Avx512F.PermuteVar16x32(Vector256.Load(s + i).ToVector512Unsafe(), dup) * sign;
                var xs = Avx512F.PermuteVar16x32(xv, swap);
                Vector512.FusedMultiplyAdd(xs, sv, xv * cv).Store(o + 2 * i);
            }
        }
        else if (Avx2.IsSupported)
        {
            var dup = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
            var swap = Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6);
            var sign = Vector256.Create(-1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f);
            for (; i <= h - 4; i += 4)
            {
                var xv = Vector256.Load(x + 2 * i);
                var cv = Avx2.PermuteVar8x32(Vector128.Load(c + i).ToVector256Unsafe(), dup);
                var sv = Avx2.PermuteVar8x32(Vector128.Load(s + i).ToVector256Unsafe(), dup) * sign;
                var xs = Avx2.PermuteVar8x32(xv, swap);
                Vector256.FusedMultiplyAdd(xs, sv, xv * cv).Store(o + 2 * i);
            }
        }
        for (; i < h; i++)
        {
            float a = x[2 * i], b = x[2 * i + 1];
            o[2 * i] = a * c[i] - b * s[i];
            o[2 * i + 1] = MathF.FusedMultiplyAdd(a, s[i], b * c[i]);
        }
    }
}
