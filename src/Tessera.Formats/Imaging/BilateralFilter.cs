using System.Globalization;
using System.Runtime.Intrinsics;

namespace Tessera.Imaging;

/// <summary>cv2.bilateralFilter on 8-bit images: each pixel becomes the weighted mean of the pixels within a disc of
/// radius r around it (offsets with i^2 + j^2 &lt;= r^2), weighted by exp(-(i^2 + j^2) / (2 sigmaSpace^2)) times
/// exp(-D^2 / (2 sigmaColor^2)), where D is the colour distance to the centre: |difference| on gray, and on colour
/// the sum over channels of |difference| (OpenCV's L1 rule), so all channels share one weight. r = d / 2, or
/// round(1.5 sigmaSpace) when d &lt;= 0, at least 1; a sigma &lt;= 0 is taken as 1 (both as OpenCV). Borders are
/// BORDER_REFLECT_101; the weighted mean is in float (the weights from a polynomial exp of relative error about
/// 2e-7 rather than OpenCV's tables, so results may differ from OpenCV's by one level at ties), rounded half to even. A 4-channel image is filtered with its
/// fourth channel counted in the distance like the others.</summary>
/// <param name="Diameter">The neighbourhood's diameter d (&lt;= 0: from sigmaSpace).</param>
/// <param name="SigmaColor">The colour (range) sigma in levels.</param>
/// <param name="SigmaSpace">The spatial sigma in pixels.</param>
public sealed record BilateralFilter(int Diameter = 9, double SigmaColor = 75, double SigmaSpace = 75) : IImageOperation
{
    /// <inheritdoc/>
    public string Spec => string.Create(CultureInfo.InvariantCulture, $"bilateral:{Diameter}:{SigmaColor}:{SigmaSpace}");

    /// <summary>The disc's radius: d / 2, or round(1.5 sigmaSpace) when d &lt;= 0, at least 1.</summary>
    public int Radius => Math.Max(Diameter > 0 ? Diameter / 2 : (int)Math.Round(SpaceSigma * 1.5), 1);

    private double SpaceSigma => SigmaSpace > 0 ? SigmaSpace : 1;
    private double ColorSigma => SigmaColor > 0 ? SigmaColor : 1;

    /// <inheritdoc/>
    public void Validate()
    {
        if (Diameter > 101 || double.IsNaN(SigmaColor) || double.IsNaN(SigmaSpace) || (Diameter <= 0 && SpaceSigma > 60))
            throw new TesseraException($"bilateral: the diameter must be at most 101 (or the space sigma at most 60 when d <= 0), got d {Diameter}, sigmaColor {SigmaColor}, sigmaSpace {SigmaSpace}");
    }

    /// <inheritdoc/>
    public Image Apply(Image image)
    {
        ImageRows.Check(image, "bilateral");
        Validate();
        int w = image.Width, h = image.Height, c = image.Channels, r = Radius, pw = w + 2 * r;
        float colorCoeff = (float)(-0.5 / (ColorSigma * ColorSigma));
        double spaceCoeff = -0.5 / (SpaceSigma * SpaceSigma);
        // The disc's offsets (into the padded planes) and the log of their spatial weights.
        var offsets = new List<int>();
        var spaceLog = new List<float>();
        for (int i = -r; i <= r; i++)
            for (int j = -r; j <= r; j++)
            {
                double d2 = (double)i * i + (double)j * j;
                if (Math.Sqrt(d2) > r) continue;
                offsets.Add(i * pw + j);
                spaceLog.Add((float)(d2 * spaceCoeff));
            }
        var planes = PaddedPlanes(image, r);
        var dst = new byte[image.Pixels.Length];
        var off = offsets.ToArray();
        var sl = spaceLog.ToArray();
        bool v512 = Vector512.IsHardwareAccelerated && c is 1 or 3 && w >= 16;
        ImageRows.For(h, 4, (s, e) =>
        {
            var sums = new float[c];
            for (int y = s; y < e; y++)
            {
                int x = 0;
                if (v512)
                    for (; ; x += 16)
                    {
                        if (x > w - 16) x = w - 16;
                        if (c == 1) BilateralKernels512.Gray16(planes[0], (y + r) * pw + x + r, off, sl, colorCoeff, dst, y * w + x);
                        else BilateralKernels512.Rgb16(planes, (y + r) * pw + x + r, off, sl, colorCoeff, dst, (y * w + x) * c);
                        if (x == w - 16) { x = w; break; }
                    }
                if (Vector256.IsHardwareAccelerated && w >= Vector256<float>.Count)
                    for (; ; x += Vector256<float>.Count)
                    {
                        if (x > w - Vector256<float>.Count) x = w - Vector256<float>.Count;
                        if (c == 1) Vector8Gray(planes[0], (y + r) * pw + x + r, off, sl, colorCoeff, dst, y * w + x);
                        else if (c == 3) Vector8Rgb(planes, (y + r) * pw + x + r, off, sl, colorCoeff, dst, (y * w + x) * c);
                        else Vector8(planes, (y + r) * pw + x + r, off, sl, colorCoeff, dst, (y * w + x) * c, c);
                        if (x == w - Vector256<float>.Count) { x = w; break; }
                    }
                for (; x < w; x++) Scalar(planes, (y + r) * pw + x + r, off, sl, colorCoeff, dst, (y * w + x) * c, sums);
            }
        });
        return image with { Pixels = dst };
    }

    // Eight neighbouring output pixels of a 3-channel image at once, from planar floats (the common case, unrolled).
    private static unsafe void Vector8Rgb(float[][] planes, int at, int[] off, float[] spaceLog, float colorCoeff, byte[] dst, int dstAt)
    {
        fixed (float* p0 = planes[0], p1 = planes[1], p2 = planes[2])
        {
            var c0 = Vector256.Load(p0 + at); var c1 = Vector256.Load(p1 + at); var c2 = Vector256.Load(p2 + at);
            Vector256<float> s0 = default, s1 = default, s2 = default, wsum = default;
            var cc = Vector256.Create(colorCoeff);
            for (int t = 0; t < off.Length; t++)
            {
                int p = at + off[t];
                var v0 = Vector256.Load(p0 + p); var v1 = Vector256.Load(p1 + p); var v2 = Vector256.Load(p2 + p);
                var dist = Vector256.Abs(v0 - c0) + Vector256.Abs(v1 - c1) + Vector256.Abs(v2 - c2);
                var wt = FastExp(dist * dist * cc + Vector256.Create(spaceLog[t]));
                wsum += wt;
                s0 += v0 * wt; s1 += v1 * wt; s2 += v2 * wt;
            }
            var inv = Vector256<float>.One / wsum;
            Store(s0 * inv, dst, dstAt, 3);
            Store(s1 * inv, dst, dstAt + 1, 3);
            Store(s2 * inv, dst, dstAt + 2, 3);
        }
    }

    // The gray case of the same.
    private static unsafe void Vector8Gray(float[] plane, int at, int[] off, float[] spaceLog, float colorCoeff, byte[] dst, int dstAt)
    {
        fixed (float* p0 = plane)
        {
            var c0 = Vector256.Load(p0 + at);
            Vector256<float> s0 = default, wsum = default;
            var cc = Vector256.Create(colorCoeff);
            for (int t = 0; t < off.Length; t++)
            {
                var v0 = Vector256.Load(p0 + at + off[t]);
                var d = v0 - c0;
                var wt = FastExp(d * d * cc + Vector256.Create(spaceLog[t]));
                wsum += wt;
                s0 += v0 * wt;
            }
            Store(s0 * (Vector256<float>.One / wsum), dst, dstAt, 1);
        }
    }

    private static void Store(Vector256<float> v, byte[] dst, int at, int stride)
    {
        for (int i = 0; i < 8; i++) dst[at + i * stride] = (byte)Math.Clamp(MathF.Round(v[i]), 0, 255);
    }

    /// <summary>e^x for x &lt;= 0 (a weight's log): 2^(x log2 e) as 2^n times a degree-5 polynomial of the fraction
    /// in [-0.5, 0.5] (relative error about 2e-7); below -87 it is 0 in effect (clamped to e^-87).</summary>
    internal static Vector256<float> FastExp(Vector256<float> x)
    {
        var t = Vector256.Max(x, Vector256.Create(-87f)) * Vector256.Create(1.44269504f);
        var n = Vector256.Round(t);
        var f = t - n;
        var p = Vector256.Create(1.33335581e-3f);
        p = p * f + Vector256.Create(9.61812911e-3f);
        p = p * f + Vector256.Create(5.55041087e-2f);
        p = p * f + Vector256.Create(2.40226507e-1f);
        p = p * f + Vector256.Create(6.93147182e-1f);
        p = p * f + Vector256<float>.One;
        var scale = (Vector256.ConvertToInt32Native(n) + Vector256.Create(127)) << 23;
        return p * scale.AsSingle();
    }

    // Eight neighbouring output pixels at once, from planar floats.
    private static void Vector8(float[][] planes, int at, int[] off, float[] spaceLog, float colorCoeff, byte[] dst, int dstAt, int c)
    {
        Span<Vector256<float>> centre = stackalloc Vector256<float>[c];
        Span<Vector256<float>> sum = stackalloc Vector256<float>[c];
        for (int ch = 0; ch < c; ch++) { centre[ch] = Vector256.Create(planes[ch].AsSpan(at, 8)); sum[ch] = default; }
        var wsum = Vector256<float>.Zero;
        var cc = Vector256.Create(colorCoeff);
        for (int t = 0; t < off.Length; t++)
        {
            int p = at + off[t];
            var dist = Vector256<float>.Zero;
            for (int ch = 0; ch < c; ch++) dist += Vector256.Abs(Vector256.Create(planes[ch].AsSpan(p, 8)) - centre[ch]);
            var wt = FastExp(dist * dist * cc + Vector256.Create(spaceLog[t]));
            wsum += wt;
            for (int ch = 0; ch < c; ch++) sum[ch] += Vector256.Create(planes[ch].AsSpan(p, 8)) * wt;
        }
        var inv = Vector256<float>.One / wsum;
        for (int ch = 0; ch < c; ch++)
        {
            var v = sum[ch] * inv;
            for (int i = 0; i < 8; i++) dst[dstAt + i * c + ch] = (byte)Math.Clamp(MathF.Round(v[i]), 0, 255);
        }
    }

    private static void Scalar(float[][] planes, int at, int[] off, float[] spaceLog, float colorCoeff, byte[] dst, int dstAt, float[] sum)
    {
        int c = planes.Length;
        Array.Clear(sum);
        float wsum = 0;
        for (int t = 0; t < off.Length; t++)
        {
            int p = at + off[t];
            float dist = 0;
            for (int ch = 0; ch < c; ch++) dist += MathF.Abs(planes[ch][p] - planes[ch][at]);
            float wt = MathF.Exp(dist * dist * colorCoeff + spaceLog[t]);
            wsum += wt;
            for (int ch = 0; ch < c; ch++) sum[ch] += planes[ch][p] * wt;
        }
        for (int ch = 0; ch < c; ch++) dst[dstAt + ch] = (byte)Math.Clamp(MathF.Round(sum[ch] * (1f / wsum)), 0, 255);
    }

    // One float plane per channel, padded by r with BORDER_REFLECT_101.
    private static float[][] PaddedPlanes(Image image, int r)
    {
        int w = image.Width, h = image.Height, c = image.Channels, pw = w + 2 * r, ph = h + 2 * r;
        var planes = new float[c][];
        for (int ch = 0; ch < c; ch++) planes[ch] = new float[pw * ph];
        var xs = new int[pw];
        for (int x = 0; x < pw; x++) xs[x] = ImageRows.Reflect101(x - r, w);
        var src = image.Pixels;
        ImageRows.For(ph, 32, (s, e) =>
        {
            for (int py = s; py < e; py++)
            {
                int sy = ImageRows.Reflect101(py - r, h) * w;
                for (int px = 0; px < pw; px++)
                {
                    int sAt = (sy + xs[px]) * c;
                    for (int ch = 0; ch < c; ch++) planes[ch][py * pw + px] = src[sAt + ch];
                }
            }
        });
        return planes;
    }
}
