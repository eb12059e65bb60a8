namespace Tessera.Formats.Images;

/// <summary>A decoded image: interleaved 8-bit R, G, B pixels (3 channels, alpha dropped), row by row, top row first.</summary>
/// <param name="Pixels">Height * Width * 3 bytes, in R, G, B order.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
public sealed record DecodedImage(byte[] Pixels, int Width, int Height)
{
    /// <summary>Bytes per pixel: always 3.</summary>
    public int Channels => 3;

    /// <summary>The pixels in B, G, R order (OpenCV's, as cv2.imread returns them), as a new array.</summary>
    public byte[] ToBgr()
    {
        var bgr = new byte[Pixels.Length];
        for (int i = 0; i < Pixels.Length; i += 3)
        {
            bgr[i] = Pixels[i + 2];
            bgr[i + 1] = Pixels[i + 1];
            bgr[i + 2] = Pixels[i];
        }
        return bgr;
    }
}

/// <summary>An image file that cannot be decoded: unreadable, empty, truncated or corrupt, an unsupported format,
/// or too large to decode. The message names the file (or "image" for bytes in memory) and the problem.</summary>
public sealed class ImageFormatException : TesseraException
{
    /// <summary>Creates the exception for <paramref name="source"/>.</summary>
    public ImageFormatException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner!) // a null inner exception is allowed
    {
        Source = source;
        Problem = problem;
    }

    /// <summary>The file (or "image") being decoded.</summary>
    public new string Source { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
