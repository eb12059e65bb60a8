using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu;

// Nearest-neighbour upsampling (with an optional addend, for an FPN's top-down sums) as a direct kernel: each output
// row is one input row with every element repeated scaleW times; the scaleH rows of a group are the same row, so
// without an addend the first is expanded and the rest are memory copies. The element repeat is a lane permute for
// factors that divide the vector width (16 lanes: 1, 2, 4, 8, 16), a scalar loop otherwise. The broadcast-view
// default body did the same work as a 6-D strided copy, tens of times slower.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void UpsampleNearest(Tensor x, Tensor? addend, int scaleH, int scaleW, Tensor dst)
    {
        Check(x.Rank == 4 && dst.Rank == 4 && scaleH > 0 && scaleW > 0 && dst.Shape[0] == x.Shape[0] && dst.Shape[1] == x.Shape[1]
              && dst.Shape[2] == x.Shape[2] * scaleH && dst.Shape[3] == x.Shape[3] * scaleW && (addend is null || addend.Shape == dst.Shape),
            $"upsample_nearest: x {x.Shape} by {scaleH}x{scaleW} does not give dst {dst.Shape} (addend {addend?.Shape})");
        bool f32 = x.DType == DType.F32 && dst.DType == DType.F32 && (addend is null || addend.DType == DType.F32);
        if (!f32 || !dst.IsContiguous)
        {
            Tensor.UpsampleNearestByViews(this, x, addend, scaleH, scaleW, dst);
            return;
        }
        if (dst.ElementCount == 0) return;
        int channels = x.Shape[1], h = x.Shape[2], w = x.Shape[3], ow = dst.Shape[3];
        float* xp = Ptr<float>(x), dp = Ptr<float>(dst), ap = addend is null ? null : Ptr<float>(addend);
        long sx0 = x.Strides[0], sx1 = x.Strides[1], sx2 = x.Strides[2], sx3 = x.Strides[3];
        long sa0 = 0, sa1 = 0, sa2 = 0, sa3 = 0;
        if (addend is not null) (sa0, sa1, sa2, sa3) = (addend.Strides[0], addend.Strides[1], addend.Strides[2], addend.Strides[3]);
        long inRows = (long)x.Shape[0] * channels * h;
        // One input row makes scaleH output rows: split input rows over threads, some 32K output floats a thread at least.
        CpuParallel.For(inRows, Threads, Math.Max(1, 32768 / ((long)ow * scaleH)), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                long plane = r / h;
                int iy = (int)(r - plane * h), b = (int)(plane / channels), c = (int)(plane - (long)b * channels);
                float* src = xp + b * sx0 + c * sx1 + iy * sx2;
                float* first = dp + r * scaleH * ow;   // output row iy * scaleH of plane (b, c): rows are contiguous
                for (int k = 0; k < scaleH; k++)
                {
                    float* d = first + (long)k * ow;
                    if (ap is null)
                    {
                        if (k == 0) ExpandRow(src, sx3, w, scaleW, d, null, 0);
                        else Buffer.MemoryCopy(first, d, (long)ow * 4, (long)ow * 4);
                    }
                    else ExpandRow(src, sx3, w, scaleW, d, ap + b * sa0 + c * sa1 + ((long)iy * scaleH + k) * sa2, sa3);
                }
            }
        });
    }

    // Permute controls for a repeat factor s dividing 16: output vector k of 16 input lanes takes lane (16k + i) / s.
    private static readonly Vector512<int>[][] s_repeat16 = [.. Enumerable.Range(0, 5).Select(e =>
    {
        int s = 1 << e;
        return Enumerable.Range(0, s).Select(k => Vector512.Create(Enumerable.Range(0, 16).Select(i => (16 * k + i) / s).ToArray())).ToArray();
    })];

    private static readonly Vector256<int>[][] s_repeat8 = [.. Enumerable.Range(0, 4).Select(e =>
    {
        int s = 1 << e;
        return Enumerable.Range(0, s).Select(k => Vector256.Create(Enumerable.Range(0, 8).Select(i => (8 * k + i) / s).ToArray())).ToArray();
    })];

    /// <summary>d[j s + t] = src[j * sx] (+ add[(j s + t) * sa]) for j &lt; w, t &lt; s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ExpandRow(float* src, long sx, int w, int s, float* d, float* add, long sa)
    {
        int j = 0;
        bool unit = sx == 1 && (add is null || sa == 1), pow2 = (s & (s - 1)) == 0;
        if (unit && pow2 && s <= 16 && Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
        {
            var ctl = s_repeat16[System.Numerics.BitOperations.Log2((uint)s)];
            for (; j + 16 <= w; j += 16)
            {
                var v = Vector512.Load(src + j);
                float* o = d + (long)j * s;
                for (int k = 0; k < s; k++)
                {
                    var e = Avx512F.PermuteVar16x32(v, ctl[k]);
                    if (add is not null) e += Vector512.Load(add + (long)j * s + 16 * k);
                    e.Store(o + 16 * k);
                }
            }
        }
        else if (unit && pow2 && s <= 8 && Avx2.IsSupported)
        {
            var ctl = s_repeat8[System.Numerics.BitOperations.Log2((uint)s)];
            for (; j + 8 <= w; j += 8)
            {
                var v = Vector256.Load(src + j);
                float* o = d + (long)j * s;
                for (int k = 0; k < s; k++)
                {
                    var e = Avx2.PermuteVar8x32(v, ctl[k]);
                    if (add is not null) e += Vector256.Load(add + (long)j * s + 8 * k);
                    e.Store(o + 8 * k);
                }
            }
        }
        for (; j < w; j++)
        {
            float v = src[j * sx];
            long o = (long)j * s;
            if (add is null) for (int t = 0; t < s; t++) d[o + t] = v;
            else for (int t = 0; t < s; t++) d[o + t] = v + add[(o + t) * sa];
        }
    }
}
