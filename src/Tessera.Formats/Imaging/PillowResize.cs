namespace Tessera.Imaging;

/// <summary>Image resizing exactly as Pillow's <c>Image.resize</c> does it on 8-bit images (PIL/Resample.c): a
/// separable convolution, horizontal pass first, whose kernel widens by the scale when downscaling (so downscaling is
/// antialiased), coefficients normalised in double and then rounded to 22-bit fixed point, each pass rounded and
/// clamped to 8 bits (so the vertical pass reads rounded bytes); NEAREST takes the pixel under each output centre.
/// Vision processors (Hugging Face's CLIP, ViT, SigLIP) resize through Pillow, so the same bytes come out here.</summary>
public static class PillowResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>The image resized to <paramref name="width"/> x <paramref name="height"/> (every channel alike; an
    /// RGBA image is resized without Pillow's alpha premultiplication: convert to RGB first for that case).</summary>
    public static Image Resize(Image image, int width, int height, ResizeFilter filter)
    {
        image.Validate();
        if (width <= 0 || height <= 0 || (long)width * height > ImageDecoder.DefaultMaxPixels)
            throw new TesseraException($"cannot resize a {image.Width}x{image.Height} image to {width}x{height}");
        if (width == image.Width && height == image.Height) return image with { Pixels = (byte[])image.Pixels.Clone() };
        if (filter == ResizeFilter.Nearest) return Nearest(image, width, height);
        var src = image;
        if (width != image.Width) src = Pass(src, width, filter, horizontal: true);
        if (height != image.Height) src = Pass(src, height, filter, horizontal: false);
        return src;
    }

    private static Image Nearest(Image im, int width, int height)
    {
        int c = im.Channels;
        var o = new byte[width * height * c];
        double sx = (double)im.Width / width, sy = (double)im.Height / height;
        for (int y = 0; y < height; y++)
        {
            int yi = Math.Min((int)((y + 0.5) * sy), im.Height - 1);
            for (int x = 0; x < width; x++)
            {
                int xi = Math.Min((int)((x + 0.5) * sx), im.Width - 1);
                Array.Copy(im.Pixels, (yi * im.Width + xi) * c, o, (y * width + x) * c, c);
            }
        }
        return im with { Pixels = o, Width = width, Height = height };
    }

    // One pass along x (horizontal) or y, with Pillow's precompute_coeffs and normalize_coeffs_8bpc.
    private static Image Pass(Image im, int outSize, ResizeFilter filter, bool horizontal)
    {
        int inSize = horizontal ? im.Width : im.Height;
        var (bounds, kk, ksize) = Coefficients(inSize, outSize, filter);
        int c = im.Channels;
        int w = horizontal ? outSize : im.Width, h = horizontal ? im.Height : outSize;
        var o = new byte[w * h * c];
        var src = im.Pixels;
        int rowStride = im.Width * c;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int oi = horizontal ? x : y;
                int min = bounds[2 * oi], n = bounds[2 * oi + 1], kb = oi * ksize;
                for (int ch = 0; ch < c; ch++)
                {
                    int ss = 1 << (PrecisionBits - 1);
                    for (int t = 0; t < n; t++)
                    {
                        int at = horizontal ? y * rowStride + (min + t) * c + ch : (min + t) * rowStride + x * c + ch;
                        ss += src[at] * kk[kb + t];
                    }
                    o[(y * w + x) * c + ch] = (byte)Math.Clamp(ss >> PrecisionBits, 0, 255);
                }
            }
        return im with { Pixels = o, Width = w, Height = h };
    }

    private static (int[] Bounds, int[] Kk, int KSize) Coefficients(int inSize, int outSize, ResizeFilter filter)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = ResizeKernels.Support(filter) * filterScale;
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var kk = new int[outSize * ksize];
        var k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ww = 0.0, ss = 1.0 / filterScale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            for (int x = 0; x < xmax; x++)
            {
                double wt = ResizeKernels.Weight(filter, (x + xmin - center + 0.5) * ss);
                k[x] = wt;
                ww += wt;
            }
            for (int x = 0; x < xmax; x++)
            {
                double v = ww != 0.0 ? k[x] / ww : k[x];
                kk[xx * ksize + x] = v < 0 ? (int)(-0.5 + v * (1 << PrecisionBits)) : (int)(0.5 + v * (1 << PrecisionBits));
            }
            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }
        return (bounds, kk, ksize);
    }
}
