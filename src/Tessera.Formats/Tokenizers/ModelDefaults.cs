namespace Tessera.Formats.Tokenizers;

/// <summary>llama.cpp's defaults per tokenizer model and pre-tokenizer name: default special ids, whether BOS is added,
/// the leading space, space cleaning on decode, and whether whole words skip the merges (Llama 3).</summary>
internal static class ModelDefaults
{
    public static void Apply(Vocabulary v, string source)
    {
        switch (v.Kind)
        {
            case TokenizerKind.SentencePiece:
                v.Bos = 1; v.Eos = 2; v.Unk = 0;
                v.AddSpacePrefix = true; v.AddBos = true;
                return;
            case TokenizerKind.WordPiece:
                v.Bos = 101; v.Unk = 100; v.Sep = 102; v.Pad = 0; v.Mask = 103;
                v.AddBos = true; v.AddSep = true; v.CleanSpaces = true; v.Lowercase = true;
                return;
        }
        v.Bos = 11; v.Eos = 11;
        v.CleanSpaces = true;
        if (!PreTokenizer.IsKnown(v.Pre))
            throw new TokenizerException($"{source}: unknown pre-tokenizer type: '{v.Pre}'");
        switch (v.Pre)
        {
            case "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "falcon-h1" or "pixtral" or "midm-2.0" or "lfm2" or "jina-v5-nano":
                v.IgnoreMerges = true; v.AddBos = true; break;
            case "tekken": v.CleanSpaces = false; v.IgnoreMerges = true; v.AddBos = true; break;
            case "chameleon": v.AddBos = true; v.CleanSpaces = false; break;
            case "jina-v1-en" or "jina-v2-code" or "roberta-bpe": v.AddSep = true; break;
            case "glm4" or "chatglm-bpe": v.Bos = -1; break;
            case "deepseek-llm" or "deepseek-coder" or "deepseek-v3" or "command-r" or "qwen2" or "deepseek-r1-qwen" or "kormo"
                or "f2llmv2" or "poro-chat" or "viking" or "smollm" or "gpt-4o" or "llama4" or "superbpe" or "trillion"
                or "granite-docling" or "bailingmoe" or "bailingmoe2" or "llada-moe" or "seed-coder" or "hunyuan" or "grok-2"
                or "minimax-m2" or "kimi-k2":
                v.CleanSpaces = false; break;
        }
    }
}
