using System.Text.Json;

namespace Tessera.Models.Tests.Llama;

/// <summary>Writes a Hugging Face Llama-2-style tokenizer.json (BPE with SentencePiece's "▁", byte fallback, merges)
/// of exactly <c>vocab</c> tokens, and a tokenizer_config.json (BOS added, bos/eos/unk texts, a chat template), so that
/// a test checkpoint carries a real tokenizer: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte tokens, single characters, then
/// the tokens the merges make of a word list, then filler tokens no merge makes.</summary>
public static class HfTokenizerJson
{
    public const string ChatTemplate = "{% for m in messages %}<s>{{ m['content'] }}</s>{% endfor %}";

    private static readonly string[] Words =
        ["the", "and", "to", "he", "she", "it", "in", "on", "a", "sat", "sun", "cat", "dog", "was", "ran", "day"];

    public static void Write(string directory, int vocab)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        for (int b = 0; b < 256; b++) tokens.Add($"<0x{b:X2}>");
        var merges = new List<string[]>();
        tokens.Add("\u2581");
        // Words are taken while their characters and merges fit the vocabulary.
        foreach (var word in Words)
        {
            string w = "\u2581" + word;
            var newChars = w.Distinct().Select(c => c.ToString()).Where(c => !tokens.Contains(c)).ToList();
            var wordMerges = new List<string[]>();
            var made = new List<string>();
            string piece = w[..1];
            for (int i = 1; i < w.Length; i++)
            {
                string next = piece + w[i];
                if (!tokens.Contains(next) && !made.Contains(next)) { wordMerges.Add([piece, w[i].ToString()]); made.Add(next); }
                piece = next;
            }
            if (tokens.Count + newChars.Count + made.Count > vocab) continue;
            tokens.AddRange(newChars);
            tokens.AddRange(made);
            merges.AddRange(wordMerges);
        }
        if (tokens.Count > vocab) throw new ArgumentException($"the word list needs {tokens.Count} tokens, more than {vocab}");
        for (int i = tokens.Count; i < vocab; i++) tokens.Add($"\u2581filler{i}");
        var doc = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["added_tokens"] = new object[]
            {
                Added(0, "<unk>"), Added(1, "<s>"), Added(2, "</s>"),
            },
            ["normalizer"] = new Dictionary<string, object>
            {
                ["type"] = "Sequence",
                ["normalizers"] = new object[]
                {
                    new Dictionary<string, object> { ["type"] = "Prepend", ["prepend"] = "\u2581" },
                    new Dictionary<string, object> { ["type"] = "Replace", ["pattern"] = new Dictionary<string, string> { ["String"] = " " }, ["content"] = "\u2581" },
                },
            },
            ["pre_tokenizer"] = null,
            ["post_processor"] = new Dictionary<string, object>
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new object[]
                {
                    new Dictionary<string, object> { ["SpecialToken"] = new Dictionary<string, object> { ["id"] = "<s>", ["type_id"] = 0 } },
                    new Dictionary<string, object> { ["Sequence"] = new Dictionary<string, object> { ["id"] = "A", ["type_id"] = 0 } },
                },
            },
            ["model"] = new Dictionary<string, object>
            {
                ["type"] = "BPE", ["byte_fallback"] = true, ["fuse_unk"] = true, ["unk_token"] = "<unk>",
                ["vocab"] = tokens.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i),
                ["merges"] = merges.Select(m => m[0] + " " + m[1]).ToArray(),
            },
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), JsonSerializer.Serialize(doc));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["add_bos_token"] = true, ["add_eos_token"] = false,
            ["bos_token"] = "<s>", ["eos_token"] = new Dictionary<string, object> { ["content"] = "</s>", ["special"] = true }, ["unk_token"] = "<unk>",
            ["chat_template"] = ChatTemplate,
        }));
    }

    private static Dictionary<string, object> Added(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };

    /// <summary>Text made of the word list and a few others (so that unmerged characters and byte fallback are used too).</summary>
    public static string RandomText(Random rng, int words) =>
        string.Join(" ", Enumerable.Range(0, words).Select(_ => rng.Next(8) == 0 ? "zebra\u00e9" : Words[rng.Next(Words.Length)]));
}
