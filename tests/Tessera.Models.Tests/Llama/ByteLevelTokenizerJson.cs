using System.Text;
using System.Text.Json;

namespace Tessera.Models.Tests.Llama;

/// <summary>Writes a Qwen2-style byte-level BPE tokenizer.json of exactly <c>vocab</c> tokens: GPT-2's 256 byte
/// characters, tokens made by merges of a word list ("Ġ" for the leading space), then added special tokens
/// (&lt;|endoftext|&gt;, &lt;|im_start|&gt;, &lt;|im_end|&gt;), with Qwen2's split regex and a ByteLevel pre-tokenizer, plus a
/// tokenizer_config.json naming EOS and no BOS (as Qwen2 ships).</summary>
public static class ByteLevelTokenizerJson
{
    // transformers' Qwen2 pre-tokenizer regex, which llama.cpp calls "qwen2".
    private const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private static readonly string[] Words = ["the", "and", " the", " and", " cat", " sat", "ing", " to", " a", " in"];
    public static readonly string[] Specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

    private static string ByteChars(string text) => string.Concat(Encoding.UTF8.GetBytes(text).Select(b => ByteCharOfByte(b)));

    public static void Write(string directory, int vocab)
    {
        var tokens = new List<string>();
        for (int b = 0; b < 256; b++) tokens.Add(ByteCharOfByte(b));
        var merges = new List<string>();
        foreach (var word in Words)
        {
            string w = ByteChars(word), piece = w[..1];
            for (int i = 1; i < w.Length; i++)
            {
                string next = piece + w[i];
                if (!tokens.Contains(next))
                {
                    if (tokens.Count + 1 + Specials.Length > vocab) break;
                    merges.Add(piece + " " + w[i]);
                    tokens.Add(next);
                }
                piece = next;
            }
        }
        while (tokens.Count + Specials.Length < vocab) tokens.Add(ByteChars($"filler{tokens.Count}") + "\u0120\u0120"); // no merge makes these
        int first = tokens.Count;
        var doc = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["added_tokens"] = Specials.Select((t, i) => new Dictionary<string, object>
            {
                ["id"] = first + i, ["content"] = t, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            }).ToArray(),
            ["normalizer"] = new Dictionary<string, object> { ["type"] = "NFC" },
            ["pre_tokenizer"] = new Dictionary<string, object>
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new object[]
                {
                    new Dictionary<string, object> { ["type"] = "Split", ["pattern"] = new Dictionary<string, string> { ["Regex"] = Qwen2Regex }, ["behavior"] = "Isolated", ["invert"] = false },
                    new Dictionary<string, object> { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false },
                },
            },
            ["post_processor"] = null,
            ["model"] = new Dictionary<string, object?>
            {
                ["type"] = "BPE", ["byte_fallback"] = false, ["unk_token"] = null,
                ["vocab"] = tokens.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i),
                ["merges"] = merges.ToArray(),
            },
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), JsonSerializer.Serialize(doc));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["add_bos_token"] = false, ["bos_token"] = null, ["eos_token"] = "<|im_end|>", ["pad_token"] = "<|endoftext|>",
        }));
    }

    // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for U+0100.. in byte order.
    private static string ByteCharOfByte(int b)
    {
        int next = 256, cp = -1;
        for (int x = 0; x <= b; x++)
        {
            bool printable = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
            cp = printable ? x : next++;
        }
        return ((char)cp).ToString();
    }

    public static string RandomText(Random rng, int words)
    {
        string[] pool = ["the", "cat", "sat", "and", "sing", "to", "a", "in", "thing", "42", "naïve", "日本", "!", "\n", "  "];
        return string.Concat(Enumerable.Range(0, words).Select(i => (i > 0 && rng.Next(3) > 0 ? " " : "") + pool[rng.Next(pool.Length)]));
    }
}
