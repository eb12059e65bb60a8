using Tessera.Formats.Gguf;

namespace Tessera.Formats.Tokenizers;

/// <summary>Reads a <see cref="Vocabulary"/> from GGUF's <c>tokenizer.ggml.*</c> keys with llama.cpp's defaults per
/// model and pre-tokenizer (<c>llama_vocab::impl::load</c>).</summary>
internal static class GgufVocabulary
{
    public static Vocabulary Read(GgufFile gguf)
    {
        string file = gguf.Path;
        string model = gguf.TryGetString("tokenizer.ggml.model", out var m) ? m
            : throw new TokenizerException($"{file}: no tokenizer.ggml.model: the file carries no vocabulary");
        string pre = gguf.TryGetString("tokenizer.ggml.pre", out var p) ? p : "";
        var kind = model switch
        {
            "llama" => TokenizerKind.SentencePiece,
            "gpt2" => TokenizerKind.BytePairEncoding,
            "bert" => TokenizerKind.WordPiece,
            _ => throw new TokenizerException($"{file}: tokenizer.ggml.model '{model}' is not supported (llama, gpt2, bert are)"),
        };

        if (!gguf.TryGetArray<string>("tokenizer.ggml.tokens", out var tokens))
            throw new TokenizerException($"{file}: no tokenizer.ggml.tokens (string array)");
        int n = tokens.Length;
        float[] scores = new float[n];
        if (gguf.Values.ContainsKey("tokenizer.ggml.scores"))
        {
            var s = gguf.GetArray<float>("tokenizer.ggml.scores");
            if (s.Length < n) throw new TokenizerException($"{file}: tokenizer.ggml.scores has {s.Length} entries for {n} tokens");
            Array.Copy(s, scores, n);
        }
        var attrs = new TokenAttr[n];
        if (gguf.Values.ContainsKey("tokenizer.ggml.token_type"))
        {
            var t = gguf.GetArray<int>("tokenizer.ggml.token_type");
            if (t.Length < n) throw new TokenizerException($"{file}: tokenizer.ggml.token_type has {t.Length} entries for {n} tokens");
            for (int i = 0; i < n; i++) attrs[i] = GgufTokenType.ToAttr(t[i]);
        }
        else Array.Fill(attrs, TokenAttr.Normal);

        var merges = new Dictionary<string, int>(StringComparer.Ordinal);
        if (kind == TokenizerKind.BytePairEncoding)
        {
            if (!gguf.TryGetArray<string>("tokenizer.ggml.merges", out var list))
                throw new TokenizerException($"{file}: a gpt2 vocabulary needs tokenizer.ggml.merges (string array)");
            for (int i = 0; i < list.Length; i++)
            {
                string w = ByteStrings.FromText(list[i]);
                int sp = w.Length > 1 ? w.IndexOf(' ', 1) : -1;
                string key = sp < 0 ? " " : w;   // llama.cpp keeps a malformed merge as an empty pair
                merges.TryAdd(key, i);
            }
        }

        var v = new Vocabulary
        {
            Kind = kind,
            Pre = pre,
            Texts = [.. tokens.Select(ByteStrings.FromText)],
            Scores = scores,
            Attrs = attrs,
            MergeRanks = merges,
            ModelName = gguf.TryGetString("general.name", out var name) ? name.ToLowerInvariant() : "",
        };
        ModelDefaults.Apply(v, file);
        if (gguf.TryGetBool("tokenizer.ggml.add_space_prefix", out bool asp)) v.AddSpacePrefix = asp;

        v.Bos = SpecialId(gguf, "bos", v.Bos, n);
        v.Eos = SpecialId(gguf, "eos", v.Eos, n);
        v.Eot = SpecialId(gguf, "eot", -1, n);
        v.Eom = SpecialId(gguf, "eom", -1, n);
        v.Unk = SpecialId(gguf, "unknown", v.Unk, n);
        v.Sep = SpecialId(gguf, "seperator", v.Sep, n);
        v.Pad = SpecialId(gguf, "padding", v.Pad, n);
        v.Mask = SpecialId(gguf, "mask", v.Mask, n);
        if (gguf.TryGetBool("tokenizer.ggml.add_bos_token", out bool ab)) v.AddBos = ab;
        if (gguf.TryGetBool("tokenizer.ggml.add_eos_token", out bool ae)) v.AddEos = ae;
        if (gguf.TryGetBool("tokenizer.ggml.add_sep_token", out bool asep)) v.AddSep = asep;
        if (v.AddBos && (v.Bos < 0 || v.Bos >= n)) throw new TokenizerException($"{file}: tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
        if (v.AddEos && (v.Eos < 0 || v.Eos >= n)) throw new TokenizerException($"{file}: tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
        if (gguf.TryGetBool("tokenizer.ggml.lowercase", out bool lc)) v.Lowercase = lc;
        v.StripAccents = v.Lowercase;
        if (gguf.TryGetBool("tokenizer.ggml.strip_accents", out bool sa)) v.StripAccents = sa;
        v.Complete(file);
        return v;
    }

    private static int SpecialId(GgufFile gguf, string name, int fallback, int n)
    {
        if (fallback >= n) fallback = -1;
        // An id past the vocabulary keeps the default, as llama.cpp does (it warns).
        return gguf.TryGetUInt32($"tokenizer.ggml.{name}_token_id", out uint id) && id < n ? (int)id : fallback;
    }
}
