namespace Tessera.Formats.Tokenizers;

/// <summary>The pre-tokenizer regexes llama.cpp uses per <c>tokenizer.ggml.pre</c> (<c>llm_tokenizer_bpe</c>): the text
/// is split by each regex in turn (every match and every gap between matches becomes a piece), then each piece is
/// merged on its own.</summary>
internal static class PreTokenizer
{
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    public const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string CjkRun = "[一-龥ࠀ-一가-퟿]+";

    // Canonically-equivalent letters (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126, U+212A) are escaped: an editor's NFC
    // normalization would turn them into other codepoints and reverse their ranges.
    private static readonly string[] DeepseekLlm =
    [
        "[\r\n]",
        "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
        "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
        "\\s+$",
        CjkRun,
        "\\p{N}+",
    ];

    private static readonly Dictionary<string, string[]> ByPre = Build();

    private static Dictionary<string, string[]> Build()
    {
        var d = new Dictionary<string, string[]>(StringComparer.Ordinal);
        void Add(string[] regexes, params string[] names) { foreach (var n in names) d[n] = regexes; }
        Add([@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"], "", "default");
        Add([Llama3], "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano", "dbrx", "smaug-bpe", "chatglm-bpe", "glm4");
        Add(DeepseekLlm, "deepseek-llm");
        Add(["[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", CjkRun, @"\p{N}"], "deepseek-coder");
        Add([@"\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"], "deepseek-v3");
        Add([@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"], "falcon");
        Add([@"\p{N}", Gpt2], "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b");
        Add([Gpt2], "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
            "jina-v1-en", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4");
        Add([Qwen2], "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "hunyuan", "megrez");
        Add([" ?[^(\\s|.,!?…。，、।۔،)]+"], "poro-chat", "bloom", "gpt3-finnish");
        Add([" ?[^(\\s|.,!?…。，、।۔،)]+", @"\p{N}"], "viking");
        Add(["<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", @"\p{N}", @"[\p{P}!-/:-@\[-`{-~]", Gpt2], "chameleon");
        Add([@"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+"], "seed-coder");
        return d;
    }

    public static bool IsKnown(string pre) => ByPre.ContainsKey(pre);

    /// <summary>Splits UTF-8 text (a byte string) into words and returns each word byte-level encoded, as
    /// <c>unicode_regex_split</c> does.</summary>
    public static List<string> Split(string pre, string textBytes)
    {
        var regexes = ByPre.TryGetValue(pre, out var r) ? r : throw new TokenizerException($"unknown pre-tokenizer type: '{pre}'");
        var cps = ByteStrings.Codepoints(textBytes);
        var lengths = RegexSplitter.Split(cps, regexes);
        var words = new List<string>(lengths.Count);
        int start = 0;
        var sb = new System.Text.StringBuilder();
        foreach (int len in lengths)
        {
            sb.Clear();
            for (int i = start; i < start + len; i++) ByteStrings.AppendUtf8(sb, cps[i]);
            words.Add(ByteLevelEncoding.Encode(sb.ToString()));
            start += len;
        }
        return words;
    }
}
