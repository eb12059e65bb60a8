namespace Tessera.Imaging;

/// <summary>Colour to gray as OpenCV's cv2.cvtColor(BGR2GRAY) on 8-bit images: Y = 0.299 R + 0.587 G + 0.114 B, in
/// OpenCV's 14-bit fixed point (4899 R + 9617 G + 1868 B + 8192) >> 14, which is within one level of the rounded real
/// value. The result has one channel; a gray image is returned as it is; a fourth (alpha) channel is ignored.</summary>
public sealed record Grayscale : IImageOperation
{
    /// <inheritdoc/>
    public string Spec => "gray";

    /// <inheritdoc/>
    public void Validate() { }

    /// <inheritdoc/>
    public Image Apply(Image image) => ToGray(image);

    /// <summary>The one-channel gray image of <paramref name="image"/> (the same object when it already is gray).</summary>
    public static Image ToGray(Image image)
    {
        ImageRows.Check(image, "gray");
        if (image.Channels == 1) return image;
        int n = image.Width * image.Height, c = image.Channels;
        // Weights in the image's own channel order.
        int w0 = image.Bgr ? 1868 : 4899, w2 = image.Bgr ? 4899 : 1868;
        var src = image.Pixels;
        var gray = new byte[n];
        ImageRows.For(n, 1 << 16, (s, e) =>
        {
            for (int i = s; i < e; i++)
            {
                int at = i * c;
                gray[i] = (byte)((src[at] * w0 + src[at + 1] * 9617 + src[at + 2] * w2 + 8192) >> 14);
            }
        });
        return new Image(gray, image.Width, image.Height, 1, image.Bgr);
    }

    /// <summary>A gray image with its value copied into each of <paramref name="channels"/> channels (alpha, the
    /// fourth, is set to 255); the image itself when it already has that many channels.</summary>
    public static Image Expand(Image image, int channels)
    {
        ImageRows.Check(image, "gray expand");
        if (image.Channels == channels) return image;
        if (image.Channels != 1 || channels is not (3 or 4))
            throw new TesseraException($"gray expand: only a 1-channel image expands, to 3 or 4 channels; got {image.Channels} to {channels}");
        int n = image.Width * image.Height;
        var px = new byte[n * channels];
        var src = image.Pixels;
        for (int i = 0; i < n; i++)
        {
            byte v = src[i];
            int at = i * channels;
            px[at] = v; px[at + 1] = v; px[at + 2] = v;
            if (channels == 4) px[at + 3] = 255;
        }
        return new Image(px, image.Width, image.Height, channels, image.Bgr);
    }
}
