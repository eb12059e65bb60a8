using ILGPU;

namespace Tessera.Kernels;

// Bicubic resampling of x [B, C, H, W] into [B, C, H2, W2] with PyTorch's upsample_bicubic2d semantics. Reference:
// NaiveImageOps.Bicubic (tests/Tessera.Tests/Reference) and CpuBackend.Interpolate.cs, whose tap rule this follows
// in f32: Keys' cubic with A = -0.75; source coordinate scale * dst (align_corners) or scale * (dst + 0.5) - 0.5;
// index = min(floor(src), in - 1), t = clamp(src - index, 0, 1); taps index - 1 .. index + 2 clamped to [0, in - 1].
//
// Design: one thread per output pixel (grid-stride loop over B*C*H2*W2); each computes its 4 + 4 taps and reads the
// 4x4 neighbourhood through the input's strides (planes through a StridedLayout over [B, C]); neighbouring threads
// share most taps, which the cache serves. (Conv2d and patch embedding, as implicit GEMM, are not written yet.)
public static class ImageKernels
{
    [Kernel(BlockX = 256, Reference = "NaiveImageOps.Bicubic; CpuBackend.InterpolateBicubic")]
    public static void Bicubic(ArrayView<byte> x, StridedLayout planes, long sy, long sx, int h, int w,
        ArrayView<byte> dst, StridedLayout dl, int oh, int ow, int alignCorners, long total)
    {
        float scaleY = Scale(h, oh, alignCorners), scaleX = Scale(w, ow, alignCorners);
        for (long o = (long)Grid.IdxX * Group.DimX + Group.IdxX; o < total; o += (long)Grid.DimX * Group.DimX)
        {
            int ox = (int)(o % ow);
            long q = o / ow;
            int oy = (int)(q % oh);
            long plane = q / oh;
            long at = planes.OffsetOf(plane);
            Taps(oy, h, scaleY, alignCorners, out int y0, out float wy0, out float wy1, out float wy2, out float wy3);
            Taps(ox, w, scaleX, alignCorners, out int x0, out float wx0, out float wx1, out float wx2, out float wx3);
            int xa = Clamp(x0 - 1, w), xb = Clamp(x0, w), xc = Clamp(x0 + 1, w), xd = Clamp(x0 + 2, w);
            float r0 = Row(x, planes.DType, at + Clamp(y0 - 1, h) * sy, sx, xa, xb, xc, xd, wx0, wx1, wx2, wx3);
            float r1 = Row(x, planes.DType, at + Clamp(y0, h) * sy, sx, xa, xb, xc, xd, wx0, wx1, wx2, wx3);
            float r2 = Row(x, planes.DType, at + Clamp(y0 + 1, h) * sy, sx, xa, xb, xc, xd, wx0, wx1, wx2, wx3);
            float r3 = Row(x, planes.DType, at + Clamp(y0 + 2, h) * sy, sx, xa, xb, xc, xd, wx0, wx1, wx2, wx3);
            // Summed in the CPU backend's order: rows along x first, then the four rows weighted along y.
            float v = r0 * wy0;
            v = r1 * wy1 + v;
            v = r2 * wy2 + v;
            v = r3 * wy3 + v;
            ElementIO.StoreF(dst, dl.DType, dl.OffsetOf(o), v);
        }
    }

    private static float Scale(int inSize, int outSize, int alignCorners) => alignCorners != 0
        ? (outSize > 1 ? (float)(inSize - 1) / (outSize - 1) : 0f)
        : (float)inSize / outSize;

    private static int Clamp(int i, int n) => i < 0 ? 0 : i > n - 1 ? n - 1 : i;

    private static float Row(ArrayView<byte> x, int dt, long row, long sx, int xa, int xb, int xc, int xd, float w0, float w1, float w2, float w3) =>
        ElementIO.LoadF(x, dt, row + xa * sx) * w0 + ElementIO.LoadF(x, dt, row + xb * sx) * w1
        + ElementIO.LoadF(x, dt, row + xc * sx) * w2 + ElementIO.LoadF(x, dt, row + xd * sx) * w3;

    private static void Taps(int i, int inSize, float scale, int alignCorners, out int i0, out float w0, out float w1, out float w2, out float w3)
    {
        const float a = -0.75f;
        float real = alignCorners != 0 ? scale * i : scale * (i + 0.5f) - 0.5f;
        int f = (int)MathF.Floor(real);
        i0 = f < inSize - 1 ? f : inSize - 1;
        float t = real - i0;
        t = t < 0f ? 0f : t > 1f ? 1f : t;
        w0 = Far(t + 1f, a);
        w1 = Near(t, a);
        w2 = Near(1f - t, a);
        w3 = Far(1f - t + 1f, a);
    }

    private static float Near(float x, float a) => ((a + 2) * x - (a + 3)) * x * x + 1;

    private static float Far(float x, float a) => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}
