using Tessera.Imaging;

namespace Tessera.Models.Ocr.Output;

/// <summary>A page's image for <see cref="SearchablePdfWriter"/>: decoded pixels, Flate-compressed into the PDF, or
/// the bytes of a JPEG file, carried as they are (DCTDecode: no second lossy compression, and a much smaller file).</summary>
public sealed record SearchablePdfImage
{
    private SearchablePdfImage(Image? pixels, byte[]? jpeg)
    {
        Pixels = pixels;
        Jpeg = jpeg;
    }

    /// <summary>The decoded image, when the page is given as pixels.</summary>
    public Image? Pixels { get; }

    /// <summary>The JPEG file's bytes, when the page is given as a JPEG.</summary>
    public byte[]? Jpeg { get; }

    /// <summary>A page of decoded pixels (gray, RGB, BGR or with alpha, which is dropped).</summary>
    public static SearchablePdfImage FromPixels(Image image) => new(image ?? throw new ArgumentNullException(nameof(image)), null);

    /// <summary>A page of a JPEG file's bytes (gray or 3-component colour: a CMYK JPEG is refused, decode it to
    /// pixels instead).</summary>
    public static SearchablePdfImage FromJpeg(byte[] jpeg) => new(null, jpeg ?? throw new ArgumentNullException(nameof(jpeg)));

    /// <summary>Whether <paramref name="bytes"/> are a JPEG that <see cref="FromJpeg"/> can carry (a readable frame of
    /// 1 or 3 components).</summary>
    public static bool IsCarriableJpeg(ReadOnlySpan<byte> bytes)
    {
        try { return JpegFrameInfo.Read(bytes).Components is 1 or 3; }
        catch (TesseraException) { return false; }
    }
}
