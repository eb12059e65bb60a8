using System.Text;
using Tessera.Formats.Gguf;

namespace Tessera.Formats.Tokenizers;

/// <summary>The tokenizer of a GGUF or Hugging Face vocabulary, giving llama.cpp's ids (<c>llama_tokenize</c>) and text
/// (<c>llama_detokenize</c>): SentencePiece BPE (<c>llama</c>), byte-level BPE with llama.cpp's pre-tokenizers
/// (<c>gpt2</c>), and WordPiece (<c>bert</c>).</summary>
public sealed class Tokenizer : ITokenizer
{
    private readonly Vocabulary _vocab;
    private readonly Action<string, List<int>> _model;

    private Tokenizer(Vocabulary vocab)
    {
        _vocab = vocab;
        _model = vocab.Kind switch
        {
            TokenizerKind.SentencePiece => new SentencePieceModel(vocab).Encode,
            TokenizerKind.BytePairEncoding => new BytePairModel(vocab).Encode,
            _ => new WordPieceModel(vocab).Encode,
        };
    }

    /// <summary>The tokenizer of a GGUF file's <c>tokenizer.ggml.*</c> metadata. Throws <see cref="TokenizerException"/>
    /// when the vocabulary is missing, inconsistent or of a kind not supported, and <see cref="WeightFormatException"/>
    /// (naming the key) when a key holds the wrong type.</summary>
    public static Tokenizer FromGguf(GgufFile gguf)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        return new Tokenizer(GgufVocabulary.Read(gguf));
    }

    /// <summary>The tokenizer of a Hugging Face <c>tokenizer.json</c> (BPE with merges and a byte-level pre-tokenizer,
    /// or WordPiece), read with the same rules llama.cpp's converter applies to it.</summary>
    public static Tokenizer FromHuggingFace(string tokenizerJsonPath)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJsonPath);
        return new Tokenizer(HuggingFaceVocabulary.Read(tokenizerJsonPath));
    }

    internal static Tokenizer FromVocabulary(Vocabulary vocab) => new(vocab);

    /// <summary>Which algorithm this vocabulary uses.</summary>
    public TokenizerKind Kind => _vocab.Kind;

    /// <summary>The pre-tokenizer name (<c>tokenizer.ggml.pre</c>) of a byte-level BPE vocabulary; empty otherwise.</summary>
    public string PreTokenizerName => _vocab.Pre;

    /// <inheritdoc/>
    public int VocabSize => _vocab.Count;
    /// <inheritdoc/>
    public int? BosId => _vocab.Bos >= 0 ? _vocab.Bos : null;
    /// <inheritdoc/>
    public int? EosId => _vocab.Eos >= 0 ? _vocab.Eos : null;
    /// <inheritdoc/>
    public bool AddBos => _vocab.AddBos;
    /// <inheritdoc/>
    public bool AddEos => _vocab.AddEos;
    /// <inheritdoc/>
    public IReadOnlySet<int> EndOfGenerationIds => _vocab.EndOfGeneration;

    /// <inheritdoc/>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodeBytes(ByteStrings.FromText(text), addSpecial, parseSpecial);
    }

    /// <inheritdoc/>
    public int[] EncodeUtf8(ReadOnlySpan<byte> utf8, bool addSpecial = true, bool parseSpecial = false) =>
        EncodeBytes(ByteStrings.FromUtf8(utf8), addSpecial, parseSpecial);

    private int[] EncodeBytes(string text, bool addSpecial, bool parseSpecial)
    {
        var v = _vocab;
        var output = new List<int>(text.Length / 3 + 4);
        var fragments = SpecialTokenSplitter.Split(v, text, parseSpecial);
        bool wordPiece = v.Kind == TokenizerKind.WordPiece;
        if (addSpecial && (v.AddBos || wordPiece))
            output.Add(v.Bos >= 0 ? v.Bos : throw new TokenizerException("the vocabulary asks for a BOS token but has none"));
        bool prevSpecial = true; // SentencePiece adds its leading space to text at the start or after a special token
        foreach (var f in fragments)
        {
            if (!f.IsText) { output.Add(f.Token); prevSpecial = true; continue; }
            string piece = text.Substring(f.Start, f.Length);
            if (v.Kind == TokenizerKind.SentencePiece)
            {
                if (v.AddSpacePrefix && prevSpecial) piece = " " + piece;
                piece = piece.Replace(" ", "\xE2\x96\x81", StringComparison.Ordinal);
            }
            else if (v.EscapeWhitespaces) piece = piece.Replace(" ", "\xE2\x96\x81", StringComparison.Ordinal);
            _model(piece, output);
            prevSpecial = false;
        }
        if (addSpecial && wordPiece)
            output.Add(v.Sep >= 0 ? v.Sep : throw new TokenizerException("the vocabulary asks for a SEP token but has none"));
        else if (addSpecial && v.AddEos)
            output.Add(v.Eos >= 0 ? v.Eos : throw new TokenizerException("the vocabulary asks for an EOS token but has none"));
        return [.. output];
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids, bool renderSpecial = false) =>
        Encoding.UTF8.GetString(DecodeToUtf8(ids, renderSpecial, removeLeadingSpace: true));

    /// <summary>The UTF-8 bytes of <paramref name="ids"/>, as <c>llama_detokenize(remove_special: false)</c>:
    /// SentencePiece's leading space removed from the first token when <paramref name="removeLeadingSpace"/>, and the
    /// model's space clean-up (" ." to ".", " 's" to "'s" ...) where the vocabulary asks for it.</summary>
    public byte[] DecodeToUtf8(ReadOnlySpan<int> ids, bool renderSpecial = false, bool removeLeadingSpace = true)
    {
        var bytes = new List<byte>(ids.Length * 4);
        bool strip = removeLeadingSpace && _vocab.AddSpacePrefix;
        foreach (int id in ids)
        {
            var piece = Piece(id, renderSpecial);
            int from = 0;
            if (strip && piece.Length > 0 && piece[0] == ' ') from = 1;
            strip = false;
            for (int i = from; i < piece.Length; i++) bytes.Add((byte)piece[i]);
        }
        return _vocab.CleanSpaces ? SpaceCleanup.Apply(bytes) : [.. bytes];
    }

    /// <inheritdoc/>
    public byte[] TokenToPiece(int id, bool renderSpecial = false) => ByteStrings.ToBytes(Piece(id, renderSpecial));

    /// <inheritdoc/>
    public string TokenText(int id) => Encoding.UTF8.GetString(ByteStrings.ToBytes(_vocab.Texts[CheckId(id)]));

    /// <inheritdoc/>
    public StreamingDetokenizer CreateStreamingDetokenizer(bool renderSpecial = false) => new(this, renderSpecial);

    /// <summary>The piece of one token as a byte string (llama.cpp's <c>token_to_piece</c>).</summary>
    internal string Piece(int id, bool renderSpecial)
    {
        var attr = _vocab.Attrs[CheckId(id)];
        string text = _vocab.Texts[id];
        if (!renderSpecial && (attr & (TokenAttr.Unknown | TokenAttr.Control)) != 0) return "";
        if ((attr & (TokenAttr.Unknown | TokenAttr.Control | TokenAttr.UserDefined)) != 0) return text;
        if ((attr & TokenAttr.Normal) != 0)
            return _vocab.Kind == TokenizerKind.BytePairEncoding && !_vocab.EscapeWhitespaces
                ? ByteLevelEncoding.Decode(text)
                : text.Replace("\xE2\x96\x81", " ", StringComparison.Ordinal);
        if ((attr & TokenAttr.Byte) != 0 && text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal)
            && byte.TryParse(text.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
            return ((char)b).ToString();
        return "";
    }

    private int CheckId(int id) =>
        (uint)id < (uint)_vocab.Count ? id : throw new ArgumentOutOfRangeException(nameof(id), id, $"token id {id} is outside the vocabulary (0..{_vocab.Count - 1})");
}
