using System.Text;

namespace Tessera.Formats.Tokenizers;

/// <summary>Turns generated ids into text one at a time, returning only complete UTF-8 characters: a character split
/// over several byte tokens (an emoji as four <c>&lt;0xXX&gt;</c> tokens) comes out whole with its last byte. Pieces
/// are raw (no leading-space removal, no clean-up), as llama.cpp's examples print them while generating.</summary>
public sealed class StreamingDetokenizer
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _renderSpecial;
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private readonly char[] _chars = new char[64];

    internal StreamingDetokenizer(Tokenizer tokenizer, bool renderSpecial)
    {
        _tokenizer = tokenizer;
        _renderSpecial = renderSpecial;
    }

    /// <summary>The text completed by this token (possibly empty while a character is still incomplete).</summary>
    public string Push(int id)
    {
        var bytes = _tokenizer.TokenToPiece(id, _renderSpecial);
        return Convert(bytes, flush: false);
    }

    /// <summary>The rest at the end of generation: an incomplete trailing sequence becomes U+FFFD.</summary>
    public string Flush() => Convert([], flush: true);

    private string Convert(byte[] bytes, bool flush)
    {
        int needed = _decoder.GetCharCount(bytes, flush);
        var chars = needed <= _chars.Length ? _chars : new char[needed];
        int n = _decoder.GetChars(bytes, 0, bytes.Length, chars, 0, flush);
        return new string(chars, 0, n);
    }
}
