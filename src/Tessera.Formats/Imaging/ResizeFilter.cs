namespace Tessera.Imaging;

/// <summary>Resampling filters, with Pillow's names and Pillow's kernels (PIL/Resample.c).</summary>
public enum ResizeFilter
{
    /// <summary>The source pixel under each output pixel's centre (Pillow's NEAREST = 0).</summary>
    Nearest = 0,
    /// <summary>Pillow's LANCZOS = 1: a 3-lobed windowed sinc.</summary>
    Lanczos = 1,
    /// <summary>Pillow's BILINEAR = 2: a triangle of support 1.</summary>
    Bilinear = 2,
    /// <summary>Pillow's BICUBIC = 3: Keys' cubic with a = -0.5, support 2.</summary>
    Bicubic = 3,
    /// <summary>Pillow's BOX = 4: an area average of support 1/2.</summary>
    Box = 4,
    /// <summary>Pillow's HAMMING = 5: a Hamming-windowed sinc of support 1.</summary>
    Hamming = 5,
}

/// <summary>The filter kernels Pillow convolves with.</summary>
internal static class ResizeKernels
{
    /// <summary>Half-width of the kernel at scale 1.</summary>
    public static double Support(ResizeFilter f) => f switch
    {
        ResizeFilter.Box => 0.5,
        ResizeFilter.Bilinear or ResizeFilter.Hamming => 1.0,
        ResizeFilter.Bicubic => 2.0,
        ResizeFilter.Lanczos => 3.0,
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, "nearest has no kernel"),
    };

    public static double Weight(ResizeFilter f, double x) => f switch
    {
        ResizeFilter.Box => x > -0.5 && x <= 0.5 ? 1.0 : 0.0,
        ResizeFilter.Bilinear => Math.Abs(x) < 1.0 ? 1.0 - Math.Abs(x) : 0.0,
        ResizeFilter.Hamming => Hamming(Math.Abs(x)),
        ResizeFilter.Bicubic => Cubic(Math.Abs(x), -0.5),
        ResizeFilter.Lanczos => x >= -3.0 && x < 3.0 ? Sinc(x) * Sinc(x / 3.0) : 0.0,
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, "nearest has no kernel"),
    };

    /// <summary>Keys' cubic convolution kernel at |x| (a = -0.5 for Pillow, -0.75 for PyTorch and OpenCV).</summary>
    public static double Cubic(double x, double a) =>
        x < 1.0 ? ((a + 2.0) * x - (a + 3.0)) * x * x + 1
        : x < 2.0 ? (((x - 5) * x + 8) * x - 4) * a
        : 0.0;

    private static double Sinc(double x)
    {
        if (x == 0.0) return 1.0;
        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    private static double Hamming(double x)
    {
        if (x == 0.0) return 1.0;
        if (x >= 1.0) return 0.0;
        x *= Math.PI;
        return Math.Sin(x) / x * (0.54 + 0.46 * Math.Cos(x));
    }
}
