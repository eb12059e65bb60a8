using StbImageSharp;

namespace Tessera.Imaging;

/// <summary>Decodes PNG, JPEG and BMP (and the other formats stb_image reads: TGA, GIF's first frame, PSD, HDR, PIC)
/// into 8-bit RGB with StbImageSharp, a managed port of stb_image. The header is read first, so an image whose
/// dimensions exceed a pixel limit (<see cref="DefaultMaxPixels"/> unless given) is refused before any pixel memory is allocated.</summary>
public static class ImageDecoder
{
    /// <summary>The default limit on width * height: 100 megapixels (300 MB of RGB).</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>Files larger than this are refused before reading: no supported image of 100 megapixels needs 1 GiB.</summary>
    private const long MaxFileBytes = 1L << 30;

    /// <summary>Reads and decodes the file at <paramref name="path"/>.</summary>
    /// <exception cref="ImageFormatException">the file cannot be read, is empty, is not a supported image, is
    /// truncated or corrupt, or is larger than <paramref name="maxPixels"/>.</exception>
    public static Image DecodeFile(string path, long maxPixels = DefaultMaxPixels)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ImageFormatException(path, "file not found");
            if (info.Length > MaxFileBytes) throw new ImageFormatException(path, $"file of {info.Length} bytes is too large for an image (limit {MaxFileBytes})");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageFormatException(path, "cannot read the file: " + e.Message, e);
        }
        return Decode(bytes, path, maxPixels);
    }

    /// <summary>Decodes an encoded image held in memory; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="ImageFormatException">see <see cref="DecodeFile"/>.</exception>
    public static Image Decode(byte[] encoded, string source = "image", long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        if (encoded.Length == 0) throw new ImageFormatException(source, "empty file (0 bytes)");
        var (width, height) = ReadSize(encoded, source);
        if (width <= 0 || height <= 0)
            throw new ImageFormatException(source, $"image has no pixels ({width}x{height})");
        if ((long)width * height > maxPixels)
            throw new ImageFormatException(source, $"image of {width}x{height} = {(long)width * height} pixels exceeds the limit of {maxPixels} pixels");

        ImageResult result;
        try
        {
            result = ImageResult.FromMemory(encoded, ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // stb_image reports problems through one failure string ("bad huffman code", "outofdata", ...).
            throw new ImageFormatException(source, $"cannot decode the {width}x{height} {Kind(encoded)} image (truncated or corrupt): {e.Message}", e);
        }
        if (result.Width != width || result.Height != height || result.Data is null || result.Data.Length != (long)width * height * 3)
            throw new ImageFormatException(source, $"decoder returned {result.Width}x{result.Height} with {result.Data?.Length ?? 0} bytes for a {width}x{height} header");
        return new Image(result.Data, width, height);
    }

    /// <summary>The width and height from the image's header, without decoding its pixels.</summary>
    /// <exception cref="ImageFormatException">the bytes are not a supported image.</exception>
    public static (int Width, int Height) ReadSize(byte[] encoded, string source = "image")
    {
        ArgumentNullException.ThrowIfNull(encoded);
        if (encoded.Length == 0) throw new ImageFormatException(source, "empty file (0 bytes)");
        ImageInfo? info;
        try
        {
            using var stream = new MemoryStream(encoded, writable: false);
            info = ImageInfo.FromStream(stream);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ImageFormatException(source, $"cannot read the {Kind(encoded)} header: {e.Message}", e);
        }
        if (info is null)
        {
            // stb_image refuses a PNG header of no pixels or of more than it will decode (50,000 x 50,000) without
            // saying the size: read it from the IHDR so that the caller's limits name it.
            if (PngHeaderSize(encoded) is { } size) return size;
            // stb_image keeps the reason of its last failure in one static string ("too large", "bad IHDR len", ...).
            string? why = StbImage.stbi__g_failure_reason;
            string kind = Kind(encoded);
            throw new ImageFormatException(source, kind == "unrecognised format"
                ? "not a supported image (unrecognised format; PNG, JPEG and BMP are supported)"
                : $"cannot read the {kind} header{(string.IsNullOrEmpty(why) ? "" : ": " + why)}");
        }
        return (info.Value.Width, info.Value.Height);
    }

    // Width and height of a PNG whose first chunk is a 13-byte IHDR (big-endian, as the PNG spec lays it out).
    private static (int Width, int Height)? PngHeaderSize(byte[] b)
    {
        if (Kind(b) != "PNG" || b.Length < 24 || b[12] != (byte)'I' || b[13] != (byte)'H' || b[14] != (byte)'D' || b[15] != (byte)'R') return null;
        int w = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(16)), h = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(20));
        return w >= 0 && h >= 0 ? (w, h) : null;
    }

    // A name for the format from its magic bytes, for messages.
    private static string Kind(byte[] b)
    {
        if (b.Length >= 8 && b[0] == 0x89 && b[1] == (byte)'P' && b[2] == (byte)'N' && b[3] == (byte)'G') return "PNG";
        if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "JPEG";
        if (b.Length >= 2 && b[0] == (byte)'B' && b[1] == (byte)'M') return "BMP";
        return "unrecognised format";
    }
}
