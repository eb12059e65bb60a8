namespace Tessera.Formats.Tokenizers;

/// <summary>llama.cpp's load-time fix-ups of special tokens (<c>llama_vocab::impl::load</c>): tokens that look like
/// end-of-turn or fill-in-the-middle markers become control tokens, the end-of-generation set is gathered by text, and
/// the special-token cache (control, user-defined, unknown; longest first) is built. Files converted long ago lack the
/// token types these imply, so the same text rules keep our ids equal to llama.cpp's.</summary>
internal static class SpecialTokenRules
{
    private static readonly string[] EotTexts =
        ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
         "<｜end▁of▁sentence｜>", "<end_of_utterance>"];

    private static readonly string[][] FimTexts =
    [
        ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"],
        ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"],
        ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"],
        ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
        ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"],
        ["<|file_sep|>"],
    ];

    private static readonly string[] EogTexts =
        ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>",
         "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
         "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["];

    private static readonly string[] AlwaysRendered = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

    public static void Apply(Vocabulary v)
    {
        var attrs = v.Attrs;
        int Id(string text) => v.Find(ByteStrings.FromText(text));
        void MakeControl(int id) { if (id >= 0) attrs[id] |= TokenAttr.Control; }
        int FirstOf(IEnumerable<string> texts)
        {
            int best = -1;
            foreach (string t in texts) { int id = Id(t); if (id >= 0 && (best < 0 || id < best)) best = id; }
            return best;
        }

        if (v.Eot < 0) { v.Eot = FirstOf(EotTexts); MakeControl(v.Eot); }
        if (v.Eom < 0) { v.Eom = Id("<|eom_id|>"); MakeControl(v.Eom); }
        var fim = new int[FimTexts.Length];
        for (int i = 0; i < FimTexts.Length; i++) { fim[i] = FirstOf(FimTexts[i]); MakeControl(fim[i]); }

        for (int id = 0; id < v.Count; id++)
            if ((attrs[id] & TokenAttr.Control) != 0 && v.Texts[id].Contains("unused", StringComparison.Ordinal))
                attrs[id] |= TokenAttr.Unused;

        var eog = v.EndOfGeneration;
        foreach (int f in fim[3..]) if (f >= 0) eog.Add(f);
        foreach (string t in EogTexts) { int id = Id(t); if (id >= 0) { eog.Add(id); MakeControl(id); } }
        foreach (string t in AlwaysRendered) { int id = Id(t); if (id >= 0) attrs[id] = TokenAttr.UserDefined; }
        foreach (int id in new[] { v.Eos, v.Eot, v.Eom }) if (id >= 0) eog.Add(id);

        // o200k_harmony / solar-open: "<|end|>" is not the end of generation there.
        bool Has(string t) => Id(t) is int id && id >= 0 && eog.Contains(id);
        int end = Id("<|end|>");
        if (end >= 0 && eog.Contains(end) && ((Has("<|return|>") && (Has("<|call|>") || Has("<|calls|>"))) || ((Has("<|call|>") || Has("<|calls|>")) && Has("<|flush|>"))))
        {
            eog.Remove(end);
            attrs[end] = TokenAttr.UserDefined;
        }
        int s = Id("</s>");
        if (s >= 0 && eog.Contains(s) && Has("<|tool_response>")) { eog.Remove(s); attrs[s] = TokenAttr.Normal; }

        var special = new List<int>();
        for (int id = 0; id < v.Count; id++)
            if ((attrs[id] & (TokenAttr.Control | TokenAttr.UserDefined | TokenAttr.Unknown)) != 0) special.Add(id);
        // Longest text first; equal lengths by id, so that the order is deterministic.
        special.Sort((a, b) => v.Texts[a].Length != v.Texts[b].Length ? v.Texts[b].Length.CompareTo(v.Texts[a].Length) : a.CompareTo(b));
        v.SetSpecialTokens([.. special]);

        if (v.Pre is "jina-v2-de" or "jina-v2-es" or "jina-v2-code") SetAttr(v, "<mask>", TokenAttr.LStrip, true);
        else if (v.ModelName.Contains("phi-3", StringComparison.Ordinal) || v.ModelName.Contains("phi3", StringComparison.Ordinal))
        {
            foreach (int id in special) attrs[id] |= TokenAttr.RStrip;
            SetAttr(v, "</s>", TokenAttr.RStrip, true);
            foreach (string t in new[] { "<unk>", "<s>", "<|endoftext|>" }) SetAttr(v, t, TokenAttr.RStrip, false);
        }
        else if (v.ModelName.Contains("modern-bert", StringComparison.Ordinal)) SetAttr(v, "[MASK]", TokenAttr.LStrip, true);
    }

    private static void SetAttr(Vocabulary v, string text, TokenAttr attr, bool on)
    {
        int id = v.Find(ByteStrings.FromText(text));
        if (id < 0) return;
        v.Attrs[id] = on ? v.Attrs[id] | attr : v.Attrs[id] & ~attr;
    }
}
