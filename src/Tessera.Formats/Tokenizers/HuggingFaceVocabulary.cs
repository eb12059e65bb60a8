using System.Text.Json;

namespace Tessera.Formats.Tokenizers;

/// <summary>Reads a Hugging Face <c>tokenizer.json</c> into a <see cref="Vocabulary"/> the way llama.cpp's converter
/// (<c>convert_hf_to_gguf.py</c>) turns it into GGUF metadata, so that both give the same ids: BPE with a byte-level
/// pre-tokenizer (the pre-tokenizer is recognised by its regex: GPT-2, Llama 3, Qwen2), BPE with SentencePiece's
/// "▁" and byte fallback (Llama 2; merge order gives the scores), and WordPiece ("##" pieces become llama.cpp's
/// phantom-space pieces). Added tokens become control tokens when special, user-defined otherwise.</summary>
internal static class HuggingFaceVocabulary
{
    private const string Llama3Hf = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2Hf = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static Vocabulary Read(string path)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        { throw new TokenizerException($"{path}: cannot read tokenizer.json: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw new TokenizerException($"{path}: no \"model\" object: not a Hugging Face tokenizer.json");
            string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            if (type is not ("BPE" or "WordPiece"))
                throw new TokenizerException($"{path}: model type '{type}' is not supported (BPE, WordPiece are)");
            if (!model.TryGetProperty("vocab", out var vocabJson) || vocabJson.ValueKind != JsonValueKind.Object)
                throw new TokenizerException($"{path}: model.vocab is missing or not an object");

            var byId = new SortedDictionary<int, string>();
            foreach (var p in vocabJson.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                    throw new TokenizerException($"{path}: model.vocab entry '{p.Name}' has no valid id");
                byId[id] = p.Name;
            }
            var special = new Dictionary<int, bool>();
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
                foreach (var a in added.EnumerateArray())
                {
                    if (!a.TryGetProperty("id", out var idj) || !idj.TryGetInt32(out int id) || id < 0 || !a.TryGetProperty("content", out var c))
                        throw new TokenizerException($"{path}: an added_tokens entry lacks id or content");
                    byId[id] = c.GetString() ?? "";
                    special[id] = a.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
                }
            int n = byId.Count == 0 ? 0 : byId.Keys.Max() + 1;
            if (n == 0) throw new TokenizerException($"{path}: the vocabulary is empty");
            if (n > 10_000_000) throw new TokenizerException($"{path}: token id {n - 1} is implausibly large");
            var texts = new string[n];
            var attrs = new TokenAttr[n];
            for (int i = 0; i < n; i++)
            {
                // Holes in the id range get padding tokens, as the converter writes them.
                texts[i] = byId.TryGetValue(i, out var s) ? s : $"[PAD{i}]";
                attrs[i] = !byId.ContainsKey(i) ? TokenAttr.UserDefined
                    : special.TryGetValue(i, out bool sp) ? (sp ? TokenAttr.Control : TokenAttr.UserDefined) : TokenAttr.Normal;
            }

            return type == "BPE" ? ReadBpe(path, root, model, texts, attrs) : ReadWordPiece(path, root, texts, attrs, special);
        }
    }

    private static Vocabulary ReadBpe(string path, JsonElement root, JsonElement model, string[] texts, TokenAttr[] attrs)
    {
        var mergeList = new List<string>();
        if (model.TryGetProperty("merges", out var merges) && merges.ValueKind == JsonValueKind.Array)
            foreach (var m in merges.EnumerateArray())
                mergeList.Add(m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
                    ? m[0].GetString() + " " + m[1].GetString()
                    : m.GetString() ?? throw new TokenizerException($"{path}: a merge is neither \"a b\" nor [a, b]"));
        bool byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
        string pre = byteFallback ? "" : DetectPre(path, root);
        int n = texts.Length;
        var bytes = texts.Select(ByteStrings.FromText).ToArray();
        var scores = new float[n];
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < mergeList.Count; i++)
        {
            string w = ByteStrings.FromText(mergeList[i]);
            int sp = w.Length > 1 ? w.IndexOf(' ', 1) : -1;
            ranks.TryAdd(sp < 0 ? " " : w, i);
        }
        Vocabulary v;
        if (byteFallback)
        {
            // SentencePiece BPE: a token made by an earlier merge scores higher, which is the merge order BPE applies.
            var ids = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < n; i++) ids.TryAdd(bytes[i], i);
            // Tokens no merge makes must never win a pair: they score below every merge.
            Array.Fill(scores, float.MinValue);
            foreach (var (key, rank) in ranks)
                if (ids.TryGetValue(key.Replace(" ", "", StringComparison.Ordinal), out int id) && -(rank + 1f) > scores[id]) scores[id] = -(rank + 1f);
            for (int i = 0; i < n; i++)
                if (attrs[i] == TokenAttr.Normal && bytes[i].Length == 6 && bytes[i].StartsWith("<0x", StringComparison.Ordinal)) attrs[i] = TokenAttr.Byte;
            v = new Vocabulary { Kind = TokenizerKind.SentencePiece, Pre = "", Texts = bytes, Scores = scores, Attrs = attrs };
            ModelDefaults.Apply(v, path);
        }
        else
        {
            v = new Vocabulary { Kind = TokenizerKind.BytePairEncoding, Pre = pre, Texts = bytes, Scores = scores, Attrs = attrs, MergeRanks = ranks };
            ModelDefaults.Apply(v, path);
        }
        ApplyPostProcessor(root, v, texts);
        v.Complete(path);
        return v;
    }

    private static Vocabulary ReadWordPiece(string path, JsonElement root, string[] texts, TokenAttr[] attrs, Dictionary<int, bool> special)
    {
        var phantom = new string[texts.Length];
        for (int i = 0; i < texts.Length; i++)
        {
            string t = texts[i];
            phantom[i] = special.ContainsKey(i) || (t.StartsWith('[') && t.EndsWith(']')) ? t
                : t.StartsWith("##", StringComparison.Ordinal) ? t[2..] : "▁" + t;
        }
        var v = new Vocabulary
        {
            Kind = TokenizerKind.WordPiece, Pre = "", Texts = [.. phantom.Select(ByteStrings.FromText)],
            Scores = new float[texts.Length], Attrs = attrs,
        };
        ModelDefaults.Apply(v, path);
        int Id(string s) => Array.IndexOf(texts, s);
        v.Unk = Id("[UNK]"); v.Bos = Id("[CLS]"); v.Sep = Id("[SEP]"); v.Pad = Id("[PAD]"); v.Mask = Id("[MASK]");
        if (root.TryGetProperty("normalizer", out var norm) && norm.ValueKind == JsonValueKind.Object)
        {
            if (norm.TryGetProperty("lowercase", out var lc)) v.Lowercase = lc.ValueKind == JsonValueKind.True;
            v.StripAccents = norm.TryGetProperty("strip_accents", out var sa) && sa.ValueKind != JsonValueKind.Null
                ? sa.ValueKind == JsonValueKind.True : v.Lowercase;
        }
        v.Complete(path);
        return v;
    }

    /// <summary>The llama.cpp pre-tokenizer name of a byte-level BPE tokenizer, from its split regex.</summary>
    private static string DetectPre(string path, JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
            throw new TokenizerException($"{path}: a BPE tokenizer without a pre_tokenizer is not supported");
        string? regex = null;
        bool byteLevel = false;
        void Visit(JsonElement e)
        {
            string type = e.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
            if (type == "ByteLevel") byteLevel = true;
            if (type == "Split" && e.TryGetProperty("pattern", out var p) && p.TryGetProperty("Regex", out var r)) regex ??= r.GetString();
            if (e.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array)
                foreach (var x in list.EnumerateArray()) Visit(x);
        }
        Visit(pre);
        if (!byteLevel) throw new TokenizerException($"{path}: a BPE tokenizer without a ByteLevel pre-tokenizer (and without byte_fallback) is not supported");
        return regex switch
        {
            null => "gpt-2",
            Llama3Hf => "llama-bpe",
            Qwen2Hf => "qwen2",
            _ => throw new TokenizerException($"{path}: the pre-tokenizer regex '{regex}' is not one llama.cpp knows (GPT-2, Llama 3, Qwen2 are read)"),
        };
    }

    /// <summary>BOS/EOS addition from the post-processor's single-sequence template (TemplateProcessing) when present.</summary>
    private static void ApplyPostProcessor(JsonElement root, Vocabulary v, string[] texts)
    {
        if (!root.TryGetProperty("post_processor", out var pp) || pp.ValueKind != JsonValueKind.Object) return;
        var templates = new List<JsonElement>();
        if (pp.TryGetProperty("single", out var single)) templates.Add(single);
        if (pp.TryGetProperty("processors", out var procs) && procs.ValueKind == JsonValueKind.Array)
            foreach (var p in procs.EnumerateArray()) if (p.TryGetProperty("single", out var s)) templates.Add(s);
        foreach (var s in templates)
        {
            if (s.ValueKind != JsonValueKind.Array) continue;
            var items = s.EnumerateArray().ToList();
            int first = SpecialIdOf(items.FirstOrDefault(), texts), last = SpecialIdOf(items.LastOrDefault(), texts);
            v.AddBos = first >= 0;
            if (first >= 0) v.Bos = first;
            v.AddEos = last >= 0 && items.Count > 1;
            if (v.AddEos) v.Eos = last;
        }
    }

    private static int SpecialIdOf(JsonElement item, string[] texts) =>
        item.ValueKind == JsonValueKind.Object && item.TryGetProperty("SpecialToken", out var st) && st.TryGetProperty("id", out var id)
            ? Array.IndexOf(texts, id.GetString()) : -1;
}
