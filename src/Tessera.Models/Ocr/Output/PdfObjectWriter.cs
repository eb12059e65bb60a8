using System.IO.Compression;
using System.Text;

namespace Tessera.Models.Ocr.Output;

/// <summary>Writes a PDF 1.4 file object by object to a stream, remembering each object's byte offset, and ends it
/// with the cross-reference table and trailer (PDF 32000-1, 7.5). Objects are numbered from 1 in the order they are
/// reserved; each must be written exactly once before <see cref="Finish"/>.</summary>
internal sealed class PdfObjectWriter
{
    private readonly Stream _out;
    private readonly List<long> _offsets = [];
    private long _position;

    internal PdfObjectWriter(Stream output)
    {
        _out = output;
        // The binary comment line tells transfer tools that the file is binary (7.5.2).
        Raw("%PDF-1.4\n%\u00E2\u00E3\u00CF\u00D3\n");
    }

    /// <summary>A new object number, to refer to before the object is written.</summary>
    internal int Reserve()
    {
        _offsets.Add(-1);
        return _offsets.Count;
    }

    /// <summary>Writes object <paramref name="id"/> as a dictionary (the text between &lt;&lt; and &gt;&gt;).</summary>
    internal void Dictionary(int id, string body)
    {
        Begin(id);
        Raw($"<< {body} >>\nendobj\n");
    }

    /// <summary>Writes object <paramref name="id"/> as a stream whose bytes are Flate-compressed here;
    /// <paramref name="dictionary"/> holds the other entries (not /Length or /Filter).</summary>
    internal void FlateStream(int id, string dictionary, ReadOnlySpan<byte> data)
    {
        var packed = new MemoryStream();
        using (var z = new ZLibStream(packed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(data);
        Begin(id);
        Raw($"<< {dictionary} /Filter /FlateDecode /Length {packed.Length} >>\nstream\n");
        _out.Write(packed.GetBuffer(), 0, (int)packed.Length);
        _position += packed.Length;
        Raw("\nendstream\nendobj\n");
    }

    /// <summary>Writes object <paramref name="id"/> as a stream of <paramref name="data"/> as it is (already encoded as
    /// <paramref name="dictionary"/>'s /Filter says); the dictionary holds every entry but /Length.</summary>
    internal void RawStream(int id, string dictionary, ReadOnlySpan<byte> data)
    {
        Begin(id);
        Raw($"<< {dictionary} /Length {data.Length} >>\nstream\n");
        _out.Write(data);
        _position += data.Length;
        Raw("\nendstream\nendobj\n");
    }

    /// <summary>Writes the cross-reference table and the trailer naming <paramref name="root"/> and
    /// <paramref name="info"/>.</summary>
    internal void Finish(int root, int info)
    {
        int missing = _offsets.IndexOf(-1);
        if (missing >= 0) throw new InvalidOperationException($"PDF object {missing + 1} was reserved but never written");
        long xref = _position;
        var sb = new StringBuilder();
        sb.Append($"xref\n0 {_offsets.Count + 1}\n0000000000 65535 f \n");
        // Each entry is exactly 20 bytes: 10-digit offset, 5-digit generation, 'n', and a two-byte end of line.
        foreach (long o in _offsets) sb.Append($"{o:D10} 00000 n \n");
        sb.Append($"trailer\n<< /Size {_offsets.Count + 1} /Root {root} 0 R /Info {info} 0 R >>\nstartxref\n{xref}\n%%EOF\n");
        Raw(sb.ToString());
        _out.Flush();
    }

    private void Begin(int id)
    {
        if (id < 1 || id > _offsets.Count || _offsets[id - 1] >= 0) throw new InvalidOperationException($"PDF object {id} is not reserved or already written");
        _offsets[id - 1] = _position;
        Raw($"{id} 0 obj\n");
    }

    // Everything but stream data is ASCII here (Latin-1 keeps the binary comment's bytes as written).
    private void Raw(string s)
    {
        byte[] b = Encoding.Latin1.GetBytes(s);
        _out.Write(b);
        _position += b.Length;
    }

    /// <summary>A PDF literal string "( ... )" of bytes, with the delimiters and backslash escaped and bytes outside
    /// printable ASCII written as octal escapes, so that content streams stay 7-bit.</summary>
    internal static string Literal(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length + 2).Append('(');
        foreach (byte b in bytes)
        {
            if (b is (byte)'(' or (byte)')' or (byte)'\\') sb.Append('\\').Append((char)b);
            else if (b is >= 0x20 and < 0x7F) sb.Append((char)b);
            else sb.Append('\\').Append(Convert.ToString(b, 8).PadLeft(3, '0'));
        }
        return sb.Append(')').ToString();
    }
}
