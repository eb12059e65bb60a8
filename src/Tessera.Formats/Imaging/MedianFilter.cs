using System.Runtime.Intrinsics;

namespace Tessera.Imaging;

/// <summary>cv2.medianBlur: each channel's value becomes the median of the <see cref="Window"/> x
/// <see cref="Window"/> square around it, borders replicated (BORDER_REPLICATE). Windows up to
/// <see cref="NetworkMaxWindow"/> run a vectorised comparator network (<see cref="MedianNetwork"/>) over
/// interleaved bytes; larger ones Huang's sliding histogram (O(window) per pixel).</summary>
/// <param name="Window">The odd side of the square window, 1 to 255 (1 copies the image).</param>
public sealed record MedianFilter(int Window = 3) : IImageOperation
{
    /// <summary>The largest window done by the comparator network.</summary>
    public const int NetworkMaxWindow = 7;

    /// <inheritdoc/>
    public string Spec => $"median:{Window}";

    /// <inheritdoc/>
    public Image Apply(Image image) => Apply(image, Window <= NetworkMaxWindow);

    /// <inheritdoc/>
    public void Validate()
    {
        if (Window < 1 || Window > 255 || Window % 2 == 0)
            throw new TesseraException($"median: the window must be odd, 1 to 255, got {Window}");
    }

    internal unsafe Image Apply(Image image, bool network)
    {
        ImageRows.Check(image, "median");
        Validate();
        int w = image.Width, h = image.Height, c = image.Channels, r = Window / 2, rowBytes = w * c;
        if (r == 0) return image with { Pixels = (byte[])image.Pixels.Clone() };
        var padded = ImageRows.Pad(image, r, ImageRows.Replicate);
        var dst = new byte[image.Pixels.Length];
        int pstride = (w + 2 * r) * c;
        bool v512 = Vector512.IsHardwareAccelerated && rowBytes >= Vector512<byte>.Count;
        bool v256 = Vector256.IsHardwareAccelerated && rowBytes >= Vector256<byte>.Count;
        if (network && (v512 || v256))
        {
            var net = MedianNetwork.For(Window * Window);
            ImageRows.For(h, 16, (s, e) =>
            {
                fixed (byte* pp = padded, pd = dst)
                    for (int y = s; y < e; y++)
                        if (v512) net.Row512(pp + (long)y * pstride, pstride, c, Window, pd + (long)y * rowBytes, rowBytes);
                        else net.Row256(pp + (long)y * pstride, pstride, c, Window, pd + (long)y * rowBytes, rowBytes);
            });
        }
        else
            ImageRows.For(h, 8, (s, e) =>
            {
                Span<int> hist = stackalloc int[256];
                for (int y = s; y < e; y++)
                    for (int ch = 0; ch < c; ch++) HuangRow(padded, pstride, y, ch, c, w, Window, dst.AsSpan(y * rowBytes), hist);
            });
        return image with { Pixels = dst };
    }

    // One row of one channel: a histogram of the window slides right one column at a time, and the median is found
    // by walking from the previous one, keeping the count of values below it.
    private static void HuangRow(byte[] pad, int pstride, int y, int ch, int c, int w, int k, Span<byte> dst, Span<int> hist)
    {
        hist.Clear();
        int half = k * k / 2;
        for (int dy = 0; dy < k; dy++)
            for (int dx = 0; dx < k; dx++) hist[pad[(y + dy) * pstride + dx * c + ch]]++;
        int med = 0, below = 0;
        while (below + hist[med] <= half) below += hist[med++];
        dst[ch] = (byte)med;
        for (int x = 1; x < w; x++)
        {
            int outCol = (x - 1) * c + ch, inCol = (x + k - 1) * c + ch;
            for (int dy = 0; dy < k; dy++)
            {
                int row = (y + dy) * pstride;
                int o = pad[row + outCol], n = pad[row + inCol];
                hist[o]--;
                hist[n]++;
                // (v - med) >> 31 is -1 when v < med: branch-free, as random data would mispredict the branches.
                below += ((o - med) >> 31) - ((n - med) >> 31);
            }
            while (below > half) below -= hist[--med];
            while (below + hist[med] <= half) below += hist[med++];
            dst[x * c + ch] = (byte)med;
        }
    }
}
