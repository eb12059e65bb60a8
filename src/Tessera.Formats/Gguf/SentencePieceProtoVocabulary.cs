using Tessera.Formats.Onnx;
using Tessera.Formats.Tokenizers;

namespace Tessera.Formats.Gguf;

/// <summary>Reads a SentencePiece <c>tokenizer.model</c> (its ModelProto: pieces with score and type, the trainer's
/// special ids, the normalizer's add_dummy_prefix) as llama.cpp's converter does (<c>_set_vocab_sentencepiece</c>):
/// a "llama" vocabulary with each piece's score and type, padded with unused "[PAD{i}]" tokens up to the model's
/// vocab_size when that is larger.</summary>
internal static class SentencePieceProtoVocabulary
{
    public static Vocabulary Read(string path, int? vocabSize)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new TokenizerException($"{path}: cannot read: {e.Message}"); }
        var texts = new List<string>();
        var scores = new List<float>();
        var attrs = new List<TokenAttr>();
        int unk = 0, bos = 1, eos = 2, pad = -1, modelType = 1;
        bool dummyPrefix = true;
        try
        {
            var r = new ProtoReader(data, path, 0);
            while (!r.End)
            {
                var (field, wire) = r.Tag();
                if (field == 1 && wire == 2)
                {
                    var p = r.Message(out _);
                    string piece = "";
                    float score = 0;
                    int type = 1;
                    while (!p.End)
                    {
                        var (f, w) = p.Tag();
                        if (f == 1 && w == 2) piece = p.String();
                        else if (f == 2 && w == 5) score = BitConverter.UInt32BitsToSingle(p.Fixed32());
                        else if (f == 3 && w == 0) type = (int)p.Varint();
                        else p.Skip(w);
                    }
                    texts.Add(ByteStrings.FromText(piece));
                    scores.Add(score);
                    attrs.Add(type switch { 2 => TokenAttr.Unknown, 3 => TokenAttr.Control, 4 => TokenAttr.UserDefined, 5 => TokenAttr.Unused, 6 => TokenAttr.Byte, _ => TokenAttr.Normal });
                }
                else if (field == 2 && wire == 2)
                {
                    var t = r.Message(out _);
                    while (!t.End)
                    {
                        var (f, w) = t.Tag();
                        if (w != 0) { t.Skip(w); continue; }
                        int val = (int)(long)t.Varint();   // int32 fields: -1 is a 10-byte varint
                        switch (f) { case 3: modelType = val; break; case 40: unk = val; break; case 41: bos = val; break; case 42: eos = val; break; case 43: pad = val; break; }
                    }
                }
                else if (field == 3 && wire == 2)
                {
                    var n = r.Message(out _);
                    while (!n.End)
                    {
                        var (f, w) = n.Tag();
                        if (f == 3 && w == 0) dummyPrefix = n.Varint() != 0;
                        else n.Skip(w);
                    }
                }
                else r.Skip(wire);
            }
        }
        catch (WeightFormatException e) { throw new TokenizerException($"{path}: not a SentencePiece model: {e.Message}"); }
        if (texts.Count == 0) throw new TokenizerException($"{path}: a SentencePiece model without pieces");
        if (modelType is not (1 or 2))
            throw new TokenizerException($"{path}: SentencePiece model_type {modelType} (word or char) is not one llama.cpp's \"llama\" vocabulary runs");
        for (int i = texts.Count; i < (vocabSize ?? 0); i++)
        {
            texts.Add(ByteStrings.FromText($"[PAD{i}]"));
            scores.Add(-10000f);
            attrs.Add(TokenAttr.Unused);
        }
        var v = new Vocabulary { Kind = TokenizerKind.SentencePiece, Pre = "", Texts = [.. texts], Scores = [.. scores], Attrs = [.. attrs] };
        ModelDefaults.Apply(v, path);
        (v.Unk, v.Bos, v.Eos, v.Pad) = (unk, bos, eos, pad);
        v.AddSpacePrefix = dummyPrefix;
        v.Complete(path);
        return v;
    }
}
