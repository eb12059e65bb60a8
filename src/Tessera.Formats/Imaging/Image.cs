namespace Tessera.Imaging;

/// <summary>The one image type of the stack: interleaved 8-bit pixels on the host, row by row, top row first. Decoded
/// files (<see cref="ImageDecoder"/>), OCR crops, preprocessing filters and the vision processors all take and give
/// this type; tensors are made from it only at the model's door (<see cref="ImageProcessor"/>).</summary>
/// <param name="Pixels">Height * Width * Channels bytes.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Channels">1 (gray), 3 (RGB or BGR) or 4 (RGBA or BGRA; alpha is ignored by the models, as cv2.imread
/// and Pillow's convert("RGB") drop it).</param>
/// <param name="Bgr">Whether the colour channels are in B, G, R order (OpenCV's); false for R, G, B (the decoder's and
/// Pillow's).</param>
public sealed record Image(byte[] Pixels, int Width, int Height, int Channels = 3, bool Bgr = false)
{
    /// <summary>An all-zero image.</summary>
    public static Image Blank(int width, int height, int channels = 3)
    {
        Check(width, height, channels);
        return new Image(new byte[(long)width * height * channels], width, height, channels);
    }

    /// <summary>The value of channel c (0 = B, 1 = G, 2 = R, OpenCV's order) at (x, y); gray images give their one value.</summary>
    public byte Bgr8(int x, int y, int c)
    {
        int at = (y * Width + x) * Channels;
        if (Channels == 1) return Pixels[at];
        return Pixels[at + (Bgr ? c : 2 - c)];
    }

    /// <summary>The value of channel c (0 = R, 1 = G, 2 = B) at (x, y); gray images give their one value.</summary>
    public byte Rgb8(int x, int y, int c) => Bgr8(x, y, 2 - c);

    /// <summary>The pixels as 3 channels in B, G, R order (OpenCV's, as cv2.imread returns them), as a new array.</summary>
    public byte[] ToBgr() => ToThree(bgr: true);

    /// <summary>The pixels as 3 channels in R, G, B order, as a new array (gray is repeated, alpha dropped).</summary>
    public byte[] ToRgb() => ToThree(bgr: false);

    /// <summary>This image as 3-channel R, G, B (itself when it already is).</summary>
    public Image AsRgb() => Channels == 3 && !Bgr ? this : new Image(ToRgb(), Width, Height, 3);

    /// <summary>Throws a <see cref="TesseraException"/> when the size, the channel count or the pixel buffer is inconsistent.</summary>
    public void Validate()
    {
        Check(Width, Height, Channels);
        if ((long)Width * Height * Channels != Pixels.Length)
            throw new TesseraException($"a {Width}x{Height}x{Channels} image needs {(long)Width * Height * Channels} bytes, got {Pixels.Length}");
    }

    private static void Check(int width, int height, int channels)
    {
        if (width <= 0 || height <= 0 || channels is not (1 or 3 or 4))
            throw new TesseraException($"an image must have a positive size and 1, 3 or 4 channels, got {width}x{height}x{channels}");
    }

    private byte[] ToThree(bool bgr)
    {
        var o = new byte[Width * Height * 3];
        for (int y = 0, i = 0; y < Height; y++)
            for (int x = 0; x < Width; x++, i += 3)
            {
                byte b = Bgr8(x, y, 0), g = Bgr8(x, y, 1), r = Bgr8(x, y, 2);
                o[i] = bgr ? b : r;
                o[i + 1] = g;
                o[i + 2] = bgr ? r : b;
            }
        return o;
    }
}
