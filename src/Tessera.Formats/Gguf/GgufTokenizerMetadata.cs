using System.Text;
using System.Text.Json;
using Tessera.Formats.Tokenizers;

namespace Tessera.Formats.Gguf;

/// <summary>The <c>tokenizer.ggml.*</c> metadata of a vocabulary, as llama.cpp's <c>convert_hf_to_gguf.py</c> (gguf-py's
/// <c>SpecialVocab</c>) writes it: the model kind ("llama" SentencePiece, "gpt2" byte-level BPE, "bert" WordPiece), the
/// pre-tokenizer name, tokens, scores, token types, merges, the special ids, add_bos/add_eos and the chat template.
/// Reading the keys back with <see cref="Tokenizer.FromGguf"/> gives the tokenizer they were written from.</summary>
public static class GgufTokenizerMetadata
{
    /// <summary>The keys for a Hugging Face model directory: <c>tokenizer.json</c> (or a SentencePiece
    /// <c>tokenizer.model</c>, padded to config.json's vocab_size), then, as gguf-py does,
    /// <c>tokenizer_config.json</c> (added_tokens_decoder, see <see cref="AddedTokensDecoder"/>; bos/eos/unk/pad token
    /// texts, add_bos_token, add_eos_token, chat_template) and
    /// <c>config.json</c> (the <c>*_token_id</c> keys, for ids not named otherwise); a <c>chat_template.jinja</c> file
    /// stands in for a missing chat_template.</summary>
    public static IReadOnlyList<KeyValuePair<string, GgufValue>> FromHuggingFace(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string json = Path.Combine(directory, "tokenizer.json"), model = Path.Combine(directory, "tokenizer.model");
        var v = File.Exists(json) ? HuggingFaceVocabulary.Read(json)
            : File.Exists(model) ? SentencePieceProtoVocabulary.Read(model, VocabSize(Path.Combine(directory, "config.json")))
            : throw new TokenizerException($"{directory}: no tokenizer.json or tokenizer.model");
        string? template = null;
        string cfgPath = Path.Combine(directory, "tokenizer_config.json");
        if (File.Exists(cfgPath))
            using (var doc = Parse(cfgPath))
            {
                var root = doc.RootElement;
                AddedTokensDecoder.Apply(v, root, cfgPath);
                foreach (var (key, set) in SpecialSetters(v))
                    if (root.TryGetProperty(key + "_token", out var tok) && TokenText(tok) is { } text && v.Find(ByteStrings.FromText(text)) is >= 0 and int id)
                        set(id);
                if (root.TryGetProperty("add_bos_token", out var ab) && ab.ValueKind is JsonValueKind.True or JsonValueKind.False) v.AddBos = ab.GetBoolean();
                if (root.TryGetProperty("add_eos_token", out var ae) && ae.ValueKind is JsonValueKind.True or JsonValueKind.False) v.AddEos = ae.GetBoolean();
                if (root.TryGetProperty("chat_template", out var ct)) template = ChatTemplate(ct);
            }
        string jinja = Path.Combine(directory, "chat_template.jinja");
        if (template is null && File.Exists(jinja)) template = File.ReadAllText(jinja);
        string configPath = Path.Combine(directory, "config.json");
        if (File.Exists(configPath))
            using (var doc = Parse(configPath))
                foreach (var (key, set) in SpecialSetters(v))
                    if (!NamedIn(cfgPath, key) && doc.RootElement.TryGetProperty(key + "_token_id", out var idj) && FirstId(idj) is { } id && id < v.Count)
                        set(id);
        var keys = FromVocabulary(v);
        if (template is not null) keys.Add(new("tokenizer.chat_template", GgufValue.From(template)));
        return keys;
    }

    /// <summary>The keys of a vocabulary already read.</summary>
    internal static List<KeyValuePair<string, GgufValue>> FromVocabulary(Vocabulary v)
    {
        var keys = new List<KeyValuePair<string, GgufValue>>();
        void Add(string key, GgufValue value) => keys.Add(new(key, value));
        Add("tokenizer.ggml.model", GgufValue.From(v.Kind switch
        {
            TokenizerKind.SentencePiece => "llama",
            TokenizerKind.BytePairEncoding => "gpt2",
            _ => "bert",
        }));
        if (v.Kind == TokenizerKind.BytePairEncoding) Add("tokenizer.ggml.pre", GgufValue.From(v.Pre));
        Add("tokenizer.ggml.tokens", GgufValue.Array(v.Texts.Select(Text).ToArray()));
        if (v.Kind != TokenizerKind.BytePairEncoding) Add("tokenizer.ggml.scores", GgufValue.Array(v.Scores.ToArray()));
        Add("tokenizer.ggml.token_type", GgufValue.Array(v.Attrs.Select(TokenType).ToArray()));
        if (v.Kind == TokenizerKind.BytePairEncoding)
            Add("tokenizer.ggml.merges", GgufValue.Array(v.MergeRanks.Where(m => m.Key != " ").OrderBy(m => m.Value).Select(m => Text(m.Key)).ToArray()));
        foreach (var (name, id) in new[] { ("bos", v.Bos), ("eos", v.Eos), ("unknown", v.Unk), ("seperator", v.Sep), ("padding", v.Pad), ("mask", v.Mask) })
            if (id >= 0) Add($"tokenizer.ggml.{name}_token_id", GgufValue.From((uint)id));
        if (v.Eot >= 0) Add("tokenizer.ggml.eot_token_id", GgufValue.From((uint)v.Eot));
        Add("tokenizer.ggml.add_bos_token", GgufValue.From(v.AddBos));
        Add("tokenizer.ggml.add_eos_token", GgufValue.From(v.AddEos));
        if (v.Kind == TokenizerKind.SentencePiece) Add("tokenizer.ggml.add_space_prefix", GgufValue.From(v.AddSpacePrefix));
        return keys;
    }

    private static int? VocabSize(string configPath)
    {
        if (!File.Exists(configPath)) return null;
        using var doc = Parse(configPath);
        return doc.RootElement.TryGetProperty("vocab_size", out var v) && v.TryGetInt32(out int n) && n > 0 ? n : null;
    }

    // gguf-py's special token types and the vocabulary's field each sets.
    private static (string Key, Action<int> Set)[] SpecialSetters(Vocabulary v) =>
    [
        ("bos", id => v.Bos = id), ("eos", id => v.Eos = id), ("unk", id => v.Unk = id), ("sep", id => v.Sep = id), ("pad", id => v.Pad = id),
    ];

    private static bool NamedIn(string tokenizerConfig, string key)
    {
        if (!File.Exists(tokenizerConfig)) return false;
        using var doc = Parse(tokenizerConfig);
        return doc.RootElement.TryGetProperty(key + "_token", out var t) && TokenText(t) is not null;
    }

    private static string Text(string byteString) => Encoding.UTF8.GetString(ByteStrings.ToBytes(byteString));

    private static int TokenType(TokenAttr a) =>
        a.HasFlag(TokenAttr.Byte) ? GgufTokenType.Byte
        : a.HasFlag(TokenAttr.Control) ? GgufTokenType.Control
        : a.HasFlag(TokenAttr.UserDefined) ? GgufTokenType.UserDefined
        : a.HasFlag(TokenAttr.Unknown) ? GgufTokenType.Unknown
        : a.HasFlag(TokenAttr.Unused) ? GgufTokenType.Unused
        : GgufTokenType.Normal;

    // "bos_token": "<s>" or {"content": "<s>", ...} (AddedToken), or null.
    private static string? TokenText(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Object when e.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
        _ => null,
    };

    // A string, or a list of {name, template} whose "default" entry is the template (gguf-py writes the others under
    // tokenizer.chat_template.NAME; only the default is kept here).
    private static string? ChatTemplate(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.String) return e.GetString();
        if (e.ValueKind != JsonValueKind.Array) return null;
        foreach (var t in e.EnumerateArray())
            if (t.ValueKind == JsonValueKind.Object && t.TryGetProperty("name", out var n) && n.GetString() == "default"
                && t.TryGetProperty("template", out var tt) && tt.ValueKind == JsonValueKind.String) return tt.GetString();
        return null;
    }

    // An id, or the first of a list (Llama 3.1's eos_token_id lists several).
    private static int? FirstId(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number when e.TryGetInt32(out int id) && id >= 0 => id,
        JsonValueKind.Array when e.GetArrayLength() > 0 => FirstId(e[0]),
        _ => null,
    };

    private static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        { throw new TokenizerException($"{path}: cannot read: {e.Message}"); }
    }
}
