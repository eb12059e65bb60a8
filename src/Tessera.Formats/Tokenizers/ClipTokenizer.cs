using System.Text;
using System.Text.Json;

namespace Tessera.Formats.Tokenizers;

/// <summary>CLIP's byte-level BPE tokenizer as transformers' CLIPTokenizer runs it (without ftfy): the text cleaned and
/// lower-cased (<see cref="ClipTextNormalizer"/>), split by CLIP's pattern, each piece's UTF-8 bytes mapped through
/// GPT-2's byte alphabet, its last symbol marked with <c>&lt;/w&gt;</c>, the lowest-ranked pair of
/// <c>merges.txt</c> merged everywhere until none applies, and the symbols looked up in <c>vocab.json</c> (an unknown
/// one is <c>&lt;|endoftext|&gt;</c>, CLIP's unk). <see cref="Encode"/> wraps the ids in start and end of text and
/// truncates to the context (77).</summary>
public sealed class ClipTokenizer
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<(string, string), int> _ranks;
    private readonly Dictionary<string, string[]> _cache = [];

    /// <summary>The start-of-text id.</summary>
    public int BosId { get; }

    /// <summary>The end-of-text id (also CLIP's unk and pad).</summary>
    public int EosId { get; }

    /// <summary>Entries in vocab.json.</summary>
    public int VocabSize => _vocab.Count;

    private ClipTokenizer(Dictionary<string, int> vocab, Dictionary<(string, string), int> ranks, string source)
    {
        (_vocab, _ranks) = (vocab, ranks);
        BosId = vocab.TryGetValue("<|startoftext|>", out int b) ? b : throw new TokenizerException($"{source}: vocab.json has no <|startoftext|>");
        EosId = vocab.TryGetValue("<|endoftext|>", out int e) ? e : throw new TokenizerException($"{source}: vocab.json has no <|endoftext|>");
    }

    /// <summary>Loads vocab.json and merges.txt from a model directory (or the two paths).</summary>
    public static ClipTokenizer Load(string directory) => Load(Path.Combine(directory, "vocab.json"), Path.Combine(directory, "merges.txt"));

    /// <summary>Loads the two files.</summary>
    public static ClipTokenizer Load(string vocabJson, string mergesTxt)
    {
        foreach (var p in new[] { vocabJson, mergesTxt })
            if (!File.Exists(p)) throw new TokenizerException($"{p}: no such file (a CLIP tokenizer needs vocab.json and merges.txt)");
        return Parse(File.ReadAllText(vocabJson), File.ReadAllText(mergesTxt), vocabJson);
    }

    /// <summary>Reads vocab.json's and merges.txt's text (merges: an optional "#version" line, then "a b" a line).</summary>
    public static ClipTokenizer Parse(string vocabJson, string merges, string source = "vocab.json")
    {
        Dictionary<string, int> vocab;
        try { vocab = JsonSerializer.Deserialize(vocabJson, ClipTokenizerJson.Default.DictionaryStringInt32) ?? []; }
        catch (JsonException e) { throw new TokenizerException($"{source}: not a JSON object of token ids: {e.Message}"); }
        var ranks = new Dictionary<(string, string), int>();
        int rank = 0;
        foreach (var raw in merges.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith("#version", StringComparison.Ordinal)) continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1) throw new TokenizerException($"{source}: merges line {rank + 1} '{line}' is not two symbols");
            ranks.TryAdd((line[..space], line[(space + 1)..]), rank++);
        }
        return new ClipTokenizer(vocab, ranks, source);
    }

    /// <summary>The BPE tokens of <paramref name="text"/> (no start/end of text).</summary>
    public IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<string>();
        foreach (var word in ClipTextNormalizer.Words(text))
            foreach (var piece in ClipTextNormalizer.Pieces(word))
            {
                if (piece.Equals("<|startoftext|>", StringComparison.OrdinalIgnoreCase) || piece.Equals("<|endoftext|>", StringComparison.OrdinalIgnoreCase))
                {
                    tokens.Add(piece.ToLowerInvariant());
                    continue;
                }
                tokens.AddRange(Bpe(piece));
            }
        return tokens;
    }

    /// <summary>[start of text] ids [end of text], the ids cut so that the whole is at most <paramref name="maxLength"/>
    /// (CLIP's context, 77) as truncation=True does.</summary>
    public int[] Encode(string text, int maxLength = 77)
    {
        if (maxLength < 2) throw new TokenizerException($"clip tokenizer: max length {maxLength} leaves no room for start and end of text");
        var ids = new List<int> { BosId };
        foreach (var t in Tokenize(text))
        {
            if (ids.Count == maxLength - 1) break;
            ids.Add(_vocab.TryGetValue(t, out int id) ? id : EosId);
        }
        ids.Add(EosId);
        return [.. ids];
    }

    private string[] Bpe(string piece)
    {
        lock (_cache) if (_cache.TryGetValue(piece, out var hit)) return hit;
        // GPT-2's byte alphabet over the piece's UTF-8 bytes, as real (UTF-16) strings like vocab.json's keys.
        string mapped = Encoding.UTF8.GetString(ByteStrings.ToBytes(ByteLevelEncoding.Encode(ByteStrings.FromText(piece))));
        var word = mapped.EnumerateRunes().Select(r => r.ToString()).ToList();
        word[^1] += "</w>";
        while (word.Count > 1)
        {
            (string, string)? best = null;
            int bestRank = int.MaxValue;
            for (int i = 0; i + 1 < word.Count; i++)
                if (_ranks.TryGetValue((word[i], word[i + 1]), out int r) && r < bestRank) (best, bestRank) = ((word[i], word[i + 1]), r);
            if (best is not { } pair) break;
            var merged = new List<string>(word.Count);
            for (int i = 0; i < word.Count; i++)
            {
                if (i + 1 < word.Count && word[i] == pair.Item1 && word[i + 1] == pair.Item2) { merged.Add(pair.Item1 + pair.Item2); i++; }
                else merged.Add(word[i]);
            }
            word = merged;
        }
        var result = word.ToArray();
        lock (_cache) _cache[piece] = result;
        return result;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, int>))]
internal sealed partial class ClipTokenizerJson : System.Text.Json.Serialization.JsonSerializerContext;
