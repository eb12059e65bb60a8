using Tessera.Models.Vision;

namespace Tessera.Models.Tests.Vision;

/// <summary>Bad images given to an embedding model: a header that claims 50,000 x 50,000 pixels, or none, is refused
/// with a clear message before anything of that size is allocated; an empty file and a missing file are named.</summary>
public sealed class VisionImageLimitsTests(VisionReference r) : IClassFixture<VisionReference>
{
    private string HeaderOnlyPng(int width, int height)
    {
        string path = Path.Combine(r.Root, $"header-{width}x{height}.png");
        File.WriteAllBytes(path, HeaderOnlyImages.Png(width, height));
        return path;
    }

    private void Refused(string file, params string[] named)
    {
        using var model = EmbeddingModel.Open(r.Cpu, r.Dir("vit"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.ThrowsAny<TesseraException>(() => model.EmbedImages([file]));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        foreach (var n in named) Assert.True(e.Message.Contains(n, StringComparison.Ordinal), $"\"{n}\" not in: {e.Message}");
        Assert.True(allocated < 16 << 20, $"{allocated} bytes allocated before refusing {file}");
    }

    [Fact]
    public void An_image_of_50000_by_50000_is_refused_before_allocation() => Refused(HeaderOnlyPng(50_000, 50_000), "50000x50000", "exceeds");

    [Fact]
    public void An_image_of_no_pixels_is_refused() => Refused(HeaderOnlyPng(0, 7), "header-0x7.png", "no pixels (0x7)");

    [Fact]
    public void Empty_and_missing_files_are_named()
    {
        string empty = Path.Combine(r.Root, "empty.png");
        File.WriteAllBytes(empty, []);
        Refused(empty, "empty.png", "0 bytes");
        Refused(Path.Combine(r.Root, "absent.jpg"), "absent.jpg", "not found");
    }
}
