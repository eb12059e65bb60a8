using System.Globalization;
using System.Text.Json;

namespace Tessera.Formats.Tokenizers;

/// <summary>tokenizer_config.json's <c>added_tokens_decoder</c> (<c>{"32000": {"content": "&lt;|user|&gt;", "special":
/// true, ...}}</c>) applied to a vocabulary as llama.cpp's convert_hf_to_gguf.py applies it: the token at each id
/// becomes the entry's content, a control token when the entry is special or its text looks special (<c>&lt;|...|&gt;</c>,
/// <c>&lt;unused...&gt;</c>, gguf-py's <c>does_token_look_special</c>), a user-defined token otherwise (its "▁" written
/// as a space, since llama.cpp matches user-defined text before normalising); SentencePiece scores become -1000. In
/// llama.cpp, text matching a user-defined token always becomes that token, while control tokens are matched only
/// where special text is parsed (chat templates, not a plain prompt).</summary>
internal static class AddedTokensDecoder
{
    private static readonly string[] SpecialLooking = ["<pad>", "<mask>", "<2mass>", "[@BOS@]"];

    /// <summary>Applies <paramref name="config"/>'s added_tokens_decoder, if any, to <paramref name="v"/> and rebuilds its
    /// lookups; an entry that is not an id with a content, or whose id is past the vocabulary, is an error naming it.</summary>
    public static void Apply(Vocabulary v, JsonElement config, string path)
    {
        if (!config.TryGetProperty("added_tokens_decoder", out var decoder) || decoder.ValueKind == JsonValueKind.Null) return;
        if (decoder.ValueKind != JsonValueKind.Object) throw new TokenizerException($"{path}: added_tokens_decoder is not an object of id: token");
        int applied = 0;
        foreach (var entry in decoder.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                throw new TokenizerException($"{path}: added_tokens_decoder key '{entry.Name}' is not a token id");
            if (entry.Value.ValueKind != JsonValueKind.Object || !entry.Value.TryGetProperty("content", out var c) || c.ValueKind != JsonValueKind.String)
                throw new TokenizerException($"{path}: added_tokens_decoder[{id}] has no \"content\" string");
            string content = c.GetString()!;
            if (content.Length == 0) throw new TokenizerException($"{path}: added_tokens_decoder[{id}] has an empty content");
            if (id >= v.Count)
                throw new TokenizerException($"{path}: added_tokens_decoder[{id}] ('{content}') is past the vocabulary's {v.Count} tokens (tokenizer.json, or config.json's vocab_size)");
            bool special = entry.Value.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
            if (special || LooksSpecial(content)) v.Attrs[id] = TokenAttr.Control;
            else
            {
                content = content.Replace('\u2581', ' ');
                v.Attrs[id] = TokenAttr.UserDefined;
            }
            v.Texts[id] = ByteStrings.FromText(content);
            if (v.Kind == TokenizerKind.SentencePiece) v.Scores[id] = -1000f;
            applied++;
        }
        if (applied == 0) return;
        v.EndOfGeneration.Clear(); // gathered again by text, which may have changed
        v.Complete(path);
    }

    // gguf-py's does_token_look_special: tokens some models add without marking them special.
    private static bool LooksSpecial(string t) =>
        SpecialLooking.Contains(t)
        || t.StartsWith("<|", StringComparison.Ordinal) && t.EndsWith("|>", StringComparison.Ordinal)
        || t.StartsWith("<\uff5c", StringComparison.Ordinal) && t.EndsWith("\uff5c>", StringComparison.Ordinal)
        || t.StartsWith("<unused", StringComparison.Ordinal) && t.EndsWith('>');
}
