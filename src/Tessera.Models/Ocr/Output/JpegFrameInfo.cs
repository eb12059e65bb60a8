namespace Tessera.Models.Ocr.Output;

/// <summary>The size and colour components of a baseline or progressive JPEG, read from its start-of-frame marker,
/// so that a searchable PDF can carry the file's own bytes (DCTDecode) rather than re-compressing its pixels.</summary>
internal readonly record struct JpegFrameInfo(int Width, int Height, int Components)
{
    /// <summary>The frame of <paramref name="jpeg"/>; a clear error when it is not a JPEG with one.</summary>
    internal static JpegFrameInfo Read(ReadOnlySpan<byte> jpeg)
    {
        if (jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) throw new TesseraException("searchable PDF: the JPEG bytes do not start with an SOI marker");
        int pos = 2;
        while (pos + 4 <= jpeg.Length)
        {
            if (jpeg[pos] != 0xFF) throw new TesseraException($"searchable PDF: JPEG marker expected at byte {pos}");
            byte marker = jpeg[pos + 1];
            if (marker == 0xFF) { pos++; continue; } // fill byte
            int length = (jpeg[pos + 2] << 8) | jpeg[pos + 3];
            if (length < 2 || pos + 2 + length > jpeg.Length) break;
            // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC): the frame header.
            if (marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC))
            {
                if (length < 8) break;
                var frame = new JpegFrameInfo((jpeg[pos + 7] << 8) | jpeg[pos + 8], (jpeg[pos + 5] << 8) | jpeg[pos + 6], jpeg[pos + 9]);
                if (frame.Width <= 0 || frame.Height <= 0) throw new TesseraException($"searchable PDF: the JPEG frame is {frame.Width}x{frame.Height}");
                return frame;
            }
            if (marker == 0xDA) break; // scan data before any frame
            pos += 2 + length;
        }
        throw new TesseraException("searchable PDF: the JPEG has no readable frame header");
    }
}
