namespace Tessera.Imaging;

/// <summary>Which library's sampling rule a float resize follows.</summary>
public enum ResizeConvention
{
    /// <summary>PyTorch's <c>F.interpolate(mode, align_corners=False)</c>: source coordinate (i + 0.5) * in / out - 0.5,
    /// bilinear clamped at the borders, bicubic with a = -0.75 and clamped indices; no antialiasing when shrinking.</summary>
    PyTorch,
    /// <summary>Pillow's separable filters in float (no 8-bit rounding), which is also PyTorch's
    /// <c>F.interpolate(..., antialias=True)</c>: the kernel widens by the scale when shrinking (bicubic a = -0.5).</summary>
    Antialiased,
}

/// <summary>Resizes float planes (channels first, [C, H, W]): what a processor does after converting to floats, and
/// what interpolated position embeddings need on the host.</summary>
public static class FloatResize
{
    /// <summary>Resizes <paramref name="src"/> [channels, height, width] to [channels, outHeight, outWidth].</summary>
    public static float[] Resize(ReadOnlySpan<float> src, int channels, int height, int width, int outHeight, int outWidth,
        ResizeFilter filter, ResizeConvention convention)
    {
        if (channels <= 0 || height <= 0 || width <= 0 || outHeight <= 0 || outWidth <= 0 || (long)channels * height * width != src.Length)
            throw new TesseraException($"float resize of [{channels}, {height}, {width}] ({src.Length} values) to [{channels}, {outHeight}, {outWidth}]: sizes must be positive and match the data");
        if (filter is not (ResizeFilter.Bilinear or ResizeFilter.Bicubic) && convention == ResizeConvention.PyTorch)
            throw new TesseraException($"PyTorch-convention resize supports bilinear and bicubic, not {filter}");
        var wx = Weights(width, outWidth, filter, convention);
        var wy = Weights(height, outHeight, filter, convention);
        var tmp = new double[height * outWidth];
        var dst = new float[channels * outHeight * outWidth];
        for (int c = 0; c < channels; c++)
        {
            var plane = src.Slice(c * height * width, height * width);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < outWidth; x++)
                {
                    double s = 0;
                    foreach (var (i, k) in wx[x]) s += plane[y * width + i] * k;
                    tmp[y * outWidth + x] = s;
                }
            for (int y = 0; y < outHeight; y++)
                for (int x = 0; x < outWidth; x++)
                {
                    double s = 0;
                    foreach (var (i, k) in wy[y]) s += tmp[i * outWidth + x] * k;
                    dst[(c * outHeight + y) * outWidth + x] = (float)s;
                }
        }
        return dst;
    }

    // For each output index, the source indices and weights along one axis.
    private static (int Index, double Weight)[][] Weights(int inSize, int outSize, ResizeFilter filter, ResizeConvention convention)
    {
        var all = new (int, double)[outSize][];
        double scale = (double)inSize / outSize;
        for (int o = 0; o < outSize; o++)
        {
            if (convention == ResizeConvention.Antialiased) { all[o] = Antialiased(inSize, scale, o, filter); continue; }
            double src = (o + 0.5) * scale - 0.5;
            if (filter == ResizeFilter.Bilinear)
            {
                src = Math.Max(src, 0);
                int x0 = Math.Min((int)Math.Floor(src), inSize - 1), x1 = Math.Min(x0 + 1, inSize - 1);
                double t = src - x0;
                all[o] = [(x0, 1 - t), (x1, t)];
            }
            else
            {
                int x0 = (int)Math.Floor(src);
                double t = src - x0;
                all[o] = new (int, double)[4];
                for (int k = -1; k <= 2; k++)
                    all[o][k + 1] = (Math.Clamp(x0 + k, 0, inSize - 1), ResizeKernels.Cubic(Math.Abs(t - k), -0.75));
            }
        }
        return all;
    }

    private static (int, double)[] Antialiased(int inSize, double scale, int o, ResizeFilter filter)
    {
        double filterScale = Math.Max(scale, 1.0);
        double support = ResizeKernels.Support(filter) * filterScale;
        double center = (o + 0.5) * scale;
        int min = Math.Max((int)(center - support + 0.5), 0);
        int n = Math.Min((int)(center + support + 0.5), inSize) - min;
        var w = new (int, double)[Math.Max(n, 0)];
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double k = ResizeKernels.Weight(filter, (i + min - center + 0.5) / filterScale);
            w[i] = (min + i, k);
            sum += k;
        }
        if (sum != 0) for (int i = 0; i < n; i++) w[i].Item2 /= sum;
        return w;
    }
}
