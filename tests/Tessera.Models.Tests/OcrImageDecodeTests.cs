using StbImageWriteSharp;
using Tessera.Imaging;

namespace Tessera.Models.Tests;

/// <summary>Image decoding (Tessera.Imaging) of PNG, JPEG and BMP, and its errors. The files under Data/ were
/// written by ImageMagick when the tests were authored: a 6 x 4 white image with pixel (1, 1) = (200, 30, 10) and
/// pixel (4, 2) = (0, 0, 255).</summary>
public sealed class OcrImageDecodeTests
{
    private static string Data(string name)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string p = Path.Combine(d.FullName, "tests", "Tessera.Models.Tests", "Data", name);
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException("test image not found above " + AppContext.BaseDirectory, name);
    }

    private static (byte R, byte G, byte B) At(Image img, int x, int y)
    {
        int i = (y * img.Width + x) * 3;
        return (img.Pixels[i], img.Pixels[i + 1], img.Pixels[i + 2]);
    }

    [Theory]
    [InlineData("tiny.png")]
    [InlineData("tiny.bmp")]
    public void LosslessFiles_DecodeExactly(string name)
    {
        var img = ImageDecoder.DecodeFile(Data(name));
        Assert.Equal((6, 4), (img.Width, img.Height));
        Assert.Equal(6 * 4 * 3, img.Pixels.Length);
        Assert.Equal(((byte)200, (byte)30, (byte)10), At(img, 1, 1));
        Assert.Equal(((byte)0, (byte)0, (byte)255), At(img, 4, 2));
        Assert.Equal(((byte)255, (byte)255, (byte)255), At(img, 0, 3));
        // BGR is the same pixels reordered.
        Assert.Equal(new byte[] { 10, 30, 200 }, img.ToBgr().AsSpan((1 * 6 + 1) * 3, 3).ToArray());
    }

    [Fact]
    public void Jpeg_DecodesCloseToTheSource()
    {
        var img = ImageDecoder.DecodeFile(Data("tiny.jpg"));
        Assert.Equal((6, 4), (img.Width, img.Height));
        var (r, g, b) = At(img, 0, 3);
        Assert.True(r > 230 && g > 230 && b > 230, $"white corner decoded as {(r, g, b)}");
        var red = At(img, 1, 1);
        Assert.True(red.R > red.G + 60 && red.R > red.B + 60, $"red pixel decoded as {red}");
    }

    [Fact]
    public void WrittenImages_RoundTrip()
    {
        var px = new byte[7 * 5 * 3];
        new Random(7).NextBytes(px);
        var writer = new ImageWriter();
        using var png = new MemoryStream();
        writer.WritePng(px, 7, 5, StbImageWriteSharp.ColorComponents.RedGreenBlue, png);
        Assert.Equal(px, ImageDecoder.Decode(png.ToArray()).Pixels);
        using var bmp = new MemoryStream();
        writer.WriteBmp(px, 7, 5, StbImageWriteSharp.ColorComponents.RedGreenBlue, bmp);
        Assert.Equal(px, ImageDecoder.Decode(bmp.ToArray()).Pixels);
        // Gray + alpha comes back as RGB with the gray repeated (alpha dropped).
        var ga = new byte[] { 10, 255, 20, 0, 30, 128 };
        using var gpng = new MemoryStream();
        writer.WritePng(ga, 3, 1, StbImageWriteSharp.ColorComponents.GreyAlpha, gpng);
        Assert.Equal(new byte[] { 10, 10, 10, 20, 20, 20, 30, 30, 30 }, ImageDecoder.Decode(gpng.ToArray()).Pixels);
    }

    [Fact]
    public void EmptyInput_SaysEmpty()
    {
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode([], "blank.png"));
        Assert.Contains("blank.png", e.Message);
        Assert.Contains("empty", e.Message);
        string path = Path.Combine(Path.GetTempPath(), $"tessera-empty-{Guid.NewGuid():N}.png");
        File.WriteAllBytes(path, []);
        try { Assert.Contains("empty", Assert.Throws<ImageFormatException>(() => ImageDecoder.DecodeFile(path)).Message); }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingFile_SaysNotFound()
    {
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.DecodeFile("/nonexistent/dir/x.png"));
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Garbage_SaysNotASupportedImage()
    {
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode("this is not an image at all"u8.ToArray(), "notes.txt"));
        Assert.Contains("not a supported image", e.Message);
    }

    [Fact]
    public void TruncatedPng_SaysTruncatedOrCorrupt()
    {
        var px = new byte[64 * 64 * 3];
        new Random(3).NextBytes(px);
        using var png = new MemoryStream();
        new ImageWriter().WritePng(px, 64, 64, StbImageWriteSharp.ColorComponents.RedGreenBlue, png);
        var cut = png.ToArray()[..(int)(png.Length / 2)];
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(cut, "cut.png"));
        Assert.Contains("cut.png", e.Message);
        Assert.Contains("truncated or corrupt", e.Message);
        Assert.Contains("64x64 PNG", e.Message);
    }

    [Fact]
    public void HugeImage_IsRefusedFromItsHeader()
    {
        // The PNG header (IHDR) patched to claim 12000 x 10000 pixels (120 megapixels); no pixel data is ever allocated.
        var bytes = File.ReadAllBytes(Data("tiny.png"));
        Assert.Equal((6, 4), ImageDecoder.ReadSize(bytes));
        void Be32(int at, int v) { bytes[at] = (byte)(v >> 24); bytes[at + 1] = (byte)(v >> 16); bytes[at + 2] = (byte)(v >> 8); bytes[at + 3] = (byte)v; }
        Be32(16, 12000);
        Be32(20, 10000);
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(bytes, "huge.png"));
        Assert.Contains("12000x10000", e.Message);
        Assert.Contains("exceeds the limit", e.Message);
        // A caller's own limit applies too.
        Assert.Throws<ImageFormatException>(() => ImageDecoder.DecodeFile(Data("tiny.bmp"), maxPixels: 10));
        // Larger still, stb_image itself refuses the header (over 2^30 bytes); the size is read from the IHDR and named.
        Be32(16, 40000);
        Be32(20, 40000);
        var big = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(bytes, "huger.png"));
        Assert.Contains("40000x40000", big.Message);
        Assert.Contains("exceeds the limit", big.Message);
    }
}
