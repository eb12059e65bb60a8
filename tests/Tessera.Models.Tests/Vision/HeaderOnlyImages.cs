using System.Buffers.Binary;

namespace Tessera.Models.Tests.Vision;

/// <summary>Image files that are only a header, claiming a size (50,000 x 50,000, or no pixels) whose pixels they do
/// not hold: what a decoder must refuse before allocating (the vision model and CLI tests share them).</summary>
public static class HeaderOnlyImages
{
    /// <summary>A PNG of the signature, an IHDR for width x height RGB and IEND: no pixel data at all.</summary>
    public static byte[] Png(int width, int height)
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
        return ms.ToArray();
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

    /// <summary>A BITMAPINFOHEADER bitmap of width x height, 24 bits, with no pixel data.</summary>
    public static byte[] Bmp(int width, int height)
    {
        var b = new byte[54];
        b[0] = (byte)'B';
        b[1] = (byte)'M';
        BitConverter.GetBytes(54).CopyTo(b, 2);          // file size (the header alone)
        BitConverter.GetBytes(54).CopyTo(b, 10);         // pixel data offset
        BitConverter.GetBytes(40).CopyTo(b, 14);         // BITMAPINFOHEADER
        BitConverter.GetBytes(width).CopyTo(b, 18);
        BitConverter.GetBytes(height).CopyTo(b, 22);
        BitConverter.GetBytes((short)1).CopyTo(b, 26);   // planes
        BitConverter.GetBytes((short)24).CopyTo(b, 28);  // bits per pixel
        return b;
    }
}
