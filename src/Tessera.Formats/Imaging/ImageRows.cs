namespace Tessera.Imaging;

/// <summary>What the filters share: input checks, border index rules and the split of rows over cores.</summary>
internal static class ImageRows
{
    /// <summary>Throws unless <paramref name="image"/> is a consistent 1, 3 or 4 channel image.</summary>
    public static void Check(Image image, string op)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Width <= 0 || image.Height <= 0 || image.Channels is not (1 or 3 or 4))
            throw new TesseraException($"{op}: an image must have a positive size and 1, 3 or 4 channels, got {image.Width}x{image.Height}x{image.Channels}");
        if ((long)image.Width * image.Height * image.Channels != image.Pixels.Length)
            throw new TesseraException($"{op}: a {image.Width}x{image.Height}x{image.Channels} image needs {(long)image.Width * image.Height * image.Channels} bytes, got {image.Pixels.Length}");
    }

    /// <summary>OpenCV's BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba), repeated for offsets past a whole period.</summary>
    public static int Reflect101(int i, int n)
    {
        if (n == 1) return 0;
        while ((uint)i >= (uint)n) i = i < 0 ? -i : 2 * n - 2 - i;
        return i;
    }

    /// <summary>OpenCV's BORDER_REPLICATE (aaaaaa|abcdefgh|hhhhhhh).</summary>
    public static int Replicate(int i, int n) => Math.Clamp(i, 0, n - 1);

    /// <summary>Runs <paramref name="body"/>(first, end) over [0, <paramref name="count"/>) in contiguous chunks, one
    /// per core, each of at least <paramref name="minPerChunk"/> items (a small image runs on the calling thread).</summary>
    public static void For(int count, int minPerChunk, Action<int, int> body)
    {
        int chunks = Math.Clamp(count / Math.Max(minPerChunk, 1), 1, Environment.ProcessorCount);
        if (chunks == 1) { body(0, count); return; }
        Parallel.For(0, chunks, i => body((int)((long)count * i / chunks), (int)((long)count * (i + 1) / chunks)));
    }

    /// <summary>The image padded by <paramref name="r"/> pixels on every side, borders filled by
    /// <paramref name="border"/> (an index rule such as <see cref="Replicate"/>).</summary>
    public static byte[] Pad(Image image, int r, Func<int, int, int> border)
    {
        int w = image.Width, h = image.Height, c = image.Channels, pw = w + 2 * r;
        var padded = new byte[(long)pw * (h + 2 * r) * c];
        var src = image.Pixels;
        var xs = new int[pw];
        for (int x = 0; x < pw; x++) xs[x] = border(x - r, w);
        for (int py = 0; py < h + 2 * r; py++)
        {
            int sy = border(py - r, h);
            Array.Copy(src, (long)sy * w * c, padded, ((long)py * pw + r) * c, (long)w * c);
            long row = (long)py * pw * c;
            for (int x = 0; x < r; x++)
            {
                Array.Copy(src, ((long)sy * w + xs[x]) * c, padded, row + (long)x * c, c);
                Array.Copy(src, ((long)sy * w + xs[pw - 1 - x]) * c, padded, row + (long)(pw - 1 - x) * c, c);
            }
        }
        return padded;
    }
}
