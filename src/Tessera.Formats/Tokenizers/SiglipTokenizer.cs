using System.Text;
using System.Text.RegularExpressions;
using Tessera.Formats.Gguf;
using Tessera.Formats.Onnx;

namespace Tessera.Formats.Tokenizers;

/// <summary>SigLIP's text tokenizer (transformers' SiglipTokenizer) from its SentencePiece <c>spiece.model</c>, for the
/// checkpoints published without a tokenizer.json: the text gets a leading "▁" (with any "▁" in it made a space), is
/// lowercased (do_lower_case), loses ASCII punctuation (Python's string.punctuation) and has whitespace runs collapsed
/// and trimmed (canonicalize_text); SentencePiece's normaliser (NFKC, spaces to "▁", no dummy prefix: SigLIP turns it
/// off) and its unigram model (<see cref="UnigramModel"/>) then run on "&lt;unk&gt;" + text, and the pieces of
/// "&lt;unk&gt;" are dropped again (transformers' trick to keep SentencePiece from adding its prefix); "&lt;/s&gt;"
/// ends the ids. Reads the pieces with the proto reader <c>tessera convert</c> uses. Special-token text inside the input
/// ("&lt;/s&gt;") is not parsed as the special token (transformers splits it out first); its punctuation is removed.</summary>
public sealed partial class SiglipTokenizer
{
    private const string Underline = "\u2581", UnkText = "<unk>";
    private const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    private readonly UnigramModel _model;
    private readonly string[] _pieces;
    private readonly int _unkPieces;

    /// <summary>The end-of-text id appended to every text ("&lt;/s&gt;"; also SigLIP's padding).</summary>
    public int EosId { get; }

    /// <summary>The unknown piece's id.</summary>
    public int UnkId { get; }

    /// <summary>Pieces in the model.</summary>
    public int VocabSize => _pieces.Length;

    private SiglipTokenizer(string[] pieces, float[] scores, bool[] matchable, int unk, int eos)
    {
        (_pieces, UnkId, EosId) = (pieces, unk, eos);
        _model = new UnigramModel(pieces, scores, matchable, unk);
        var ids = new List<int>();
        _model.Encode(Normalize(UnkText), ids);
        _unkPieces = ids.Count;
    }

    /// <summary>Reads <c>spiece.model</c>; a file that is not a SentencePiece model, or one that is not a unigram model,
    /// is an error naming it.</summary>
    public static SiglipTokenizer Load(string spiecePath)
    {
        ArgumentNullException.ThrowIfNull(spiecePath);
        int modelType = ModelType(spiecePath);
        if (modelType != 1) throw new TokenizerException($"{spiecePath}: SentencePiece model_type {modelType}; SigLIP's tokenizer is a unigram model (1)");
        var v = SentencePieceProtoVocabulary.Read(spiecePath, null);
        var pieces = v.Texts.Select(t => Encoding.UTF8.GetString(ByteStrings.ToBytes(t))).ToArray();
        var matchable = v.Attrs.Select(a => (a & (TokenAttr.Normal | TokenAttr.UserDefined)) != 0).ToArray();
        int eos = Array.IndexOf(pieces, "</s>") is var e and >= 0 ? e : v.Eos;
        if (eos < 0) throw new TokenizerException($"{spiecePath}: no \"</s>\" piece or eos_id to end a text with");
        return new SiglipTokenizer(pieces, v.Scores, matchable, v.Unk, eos);
    }

    /// <summary>The ids of <paramref name="text"/>, ending with <see cref="EosId"/> unless <paramref name="addEos"/> is false.</summary>
    public int[] Encode(string text, bool addEos = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = Underline + text.Replace(Underline, " ", StringComparison.Ordinal);
        t = t.ToLowerInvariant();
        t = Canonicalize(t);
        var ids = new List<int>();
        _model.Encode(Normalize(UnkText + t), ids);
        var result = ids.Count >= _unkPieces ? ids.Skip(_unkPieces).ToList() : ids;
        if (addEos) result.Add(EosId);
        return [.. result];
    }

    /// <summary>The piece of an id ("▁photo").</summary>
    public string Piece(int id) => (uint)id < (uint)_pieces.Length ? _pieces[id] : throw new TokenizerException($"token id {id} is outside the {_pieces.Length} pieces");

    // transformers' canonicalize_text: ASCII punctuation removed, whitespace runs to one space, trimmed.
    private static string Canonicalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
            if (Punctuation.IndexOf(c) < 0) sb.Append(c);
        return Whitespace().Replace(sb.ToString(), " ").Trim();
    }

    // SentencePiece's nmt_nfkc normaliser as SigLIP configures it: NFKC, whitespace trimmed and collapsed, spaces to "▁",
    // no dummy prefix.
    private static string Normalize(string text) =>
        Whitespace().Replace(text.Normalize(NormalizationForm.FormKC), " ").Trim(' ').Replace(" ", Underline, StringComparison.Ordinal);

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    // TrainerSpec (ModelProto field 2).model_type (field 3): 1 unigram, 2 BPE, 3 word, 4 char; unigram when absent.
    private static int ModelType(string path)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new TokenizerException($"{path}: cannot read: {e.Message}"); }
        int type = 1;
        try
        {
            var r = new ProtoReader(data, path, 0);
            while (!r.End)
            {
                var (field, wire) = r.Tag();
                if (field != 2 || wire != 2) { r.Skip(wire); continue; }
                var t = r.Message(out _);
                while (!t.End)
                {
                    var (f, w) = t.Tag();
                    if (f == 3 && w == 0) type = (int)t.Varint();
                    else t.Skip(w);
                }
            }
        }
        catch (WeightFormatException e) { throw new TokenizerException($"{path}: not a SentencePiece model: {e.Message}"); }
        return type;
    }
}
