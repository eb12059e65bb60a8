using System.Buffers.Binary;
using Tessera.Models.Vision;

namespace Tessera.Models.Tests.Vision;

/// <summary>Bad images given to an embedding model: a header that claims 50,000 x 50,000 pixels, or none, is refused
/// with a clear message before anything of that size is allocated; an empty file and a missing file are named.</summary>
public sealed class VisionImageLimitsTests(VisionReference r) : IClassFixture<VisionReference>
{
    // A PNG of the signature, an IHDR for width x height RGB and IEND: no pixel data at all.
    private string HeaderOnlyPng(int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 2;
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        void Chunk(string type, byte[] data)
        {
            var len = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
            ms.Write(len);
            var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
            ms.Write(typed);
            var crc = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
            ms.Write(crc);
        }
        Chunk("IHDR", ihdr);
        Chunk("IEND", []);
        string path = Path.Combine(r.Root, $"header-{width}x{height}.png");
        File.WriteAllBytes(path, ms.ToArray());
        return path;
    }

    // PNG's CRC-32 (polynomial 0xEDB88320), bit by bit.
    private static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
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
