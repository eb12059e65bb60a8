using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Imaging;

/// <summary>cv2.GaussianBlur on 8-bit images, per channel: a separable kernel
/// g(i) = exp(-(i - (n - 1) / 2)^2 / (2 sigma^2)), normalised to sum 1 (cv2.getGaussianKernel), across rows then
/// columns, borders BORDER_REFLECT_101 (OpenCV's default). The sums are in float and rounded once at the end (half
/// to even, as cvRound); OpenCV's own 8-bit path uses a fixed-point kernel, so results may differ from it by one
/// level. Kernel size rule (OpenCV's for 8-bit images): when <see cref="KernelSize"/> is 0 it is
/// round(6 sigma + 1) made odd (| 1); when <see cref="Sigma"/> is 0 it is 0.3 ((n - 1) / 2 - 1) + 0.8.</summary>
/// <param name="Sigma">The standard deviation in pixels (0: from the kernel size).</param>
/// <param name="KernelSize">The odd kernel width (0: from sigma).</param>
public sealed record GaussianBlur(double Sigma, int KernelSize = 0) : IImageOperation
{
    /// <inheritdoc/>
    public string Spec => KernelSize > 0 ? $"gaussian:{Sigma.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{KernelSize}"
        : $"gaussian:{Sigma.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <inheritdoc/>
    public void Validate() => Kernel();

    /// <summary>The normalised kernel this blur uses.</summary>
    public float[] Kernel()
    {
        if (Sigma < 0 || KernelSize < 0 || (Sigma == 0 && KernelSize == 0) || double.IsNaN(Sigma) || Sigma > 1000)
            throw new TesseraException($"gaussian: sigma must be in (0, 1000] or 0 with a kernel size, and the kernel size 0 or positive; got sigma {Sigma}, size {KernelSize}");
        int n = KernelSize > 0 ? KernelSize : (int)Math.Round(Sigma * 6 + 1) | 1;
        if (n % 2 == 0 || n > 2001) throw new TesseraException($"gaussian: the kernel size must be odd and at most 2001, got {KernelSize}");
        double sigma = Sigma > 0 ? Sigma : 0.3 * ((n - 1) * 0.5 - 1) + 0.8;
        var g = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += g[i] = Math.Exp(-Math.Pow(i - (n - 1) / 2.0, 2) / (2 * sigma * sigma));
        return g.Select(v => (float)(v / sum)).ToArray();
    }

    /// <inheritdoc/>
    public Image Apply(Image image)
    {
        ImageRows.Check(image, "gaussian");
        var k = Kernel();
        int w = image.Width, h = image.Height, c = image.Channels, r = k.Length / 2, rowLen = w * c;
        var src = image.Pixels;
        var outPx = new byte[src.Length];
        int n = k.Length;
        // Each chunk of output rows keeps the row-pass results of the n rows its current output row needs in a ring
        // (virtual row v, reflected into the image, lives in slot (v - first + r) mod n), so both passes stay in cache.
        ImageRows.For(h, 16, (s, e) =>
        {
            var ring = new float[n * rowLen];
            var padded = new float[(w + 2 * r) * c];
            var acc = new float[rowLen];
            int Slot(int v) => (v - s + r) % n * rowLen;
            void RowPass(int v)
            {
                int at = ImageRows.Reflect101(v, h) * rowLen;
                for (int i = 0; i < rowLen; i++) padded[r * c + i] = src[at + i];
                for (int x = 0; x < r; x++)
                    for (int ch = 0; ch < c; ch++)
                    {
                        padded[x * c + ch] = src[at + ImageRows.Reflect101(x - r, w) * c + ch];
                        padded[(w + r + x) * c + ch] = src[at + ImageRows.Reflect101(w + x, w) * c + ch];
                    }
                var dst = ring.AsSpan(Slot(v), rowLen);
                dst.Clear();
                for (int t = 0; t < n; t++) Axpy(k[t], padded.AsSpan(t * c, rowLen), dst);
            }
            for (int v = s - r; v < s + r; v++) RowPass(v);
            for (int y = s; y < e; y++)
            {
                RowPass(y + r);
                Array.Clear(acc);
                for (int t = 0; t < n; t++) Axpy(k[t], ring.AsSpan(Slot(y - r + t), rowLen), acc);
                ToBytes(acc, outPx.AsSpan(y * rowLen, rowLen));
            }
        });
        return image with { Pixels = outPx };
    }

    /// <summary>y += a * x.</summary>
    internal static unsafe void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0, n = x.Length;
        fixed (float* px = x, py = y)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var va = Vector512.Create(a);
                for (; i <= n - 16; i += 16) (Vector512.Load(px + i) * va + Vector512.Load(py + i)).Store(py + i);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var va = Vector256.Create(a);
                for (; i <= n - 8; i += 8) (Vector256.Load(px + i) * va + Vector256.Load(py + i)).Store(py + i);
            }
            for (; i < n; i++) py[i] += a * px[i];
        }
    }

    /// <summary>Floats in [0, 255] (up to rounding error) to bytes, rounded half to even and saturated.</summary>
    internal static unsafe void ToBytes(ReadOnlySpan<float> src, Span<byte> dst)
    {
        int i = 0;
        if (Avx2.IsSupported)
            fixed (float* ps = src)
            fixed (byte* pd = dst)
                for (; i <= src.Length - 16; i += 16)
                {
                    // cvtps2dq rounds half to even, like cvRound; the packs saturate to [0, 255].
                    var a = Avx.ConvertToVector256Int32(Avx.LoadVector256(ps + i));
                    var b = Avx.ConvertToVector256Int32(Avx.LoadVector256(ps + i + 8));
                    var s16 = Avx2.Permute4x64(Avx2.PackSignedSaturate(a, b).AsInt64(), 0b11011000).AsInt16();
                    var u8 = Avx2.PackUnsignedSaturate(s16, s16);
                    Sse2.Store(pd + i, Avx2.Permute4x64(u8.AsInt64(), 0b11011000).AsByte().GetLower());
                }
        for (; i < src.Length; i++) dst[i] = (byte)Math.Clamp(MathF.Round(src[i]), 0, 255);
    }
}
