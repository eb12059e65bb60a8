using Tessera.Formats.Gguf;

namespace Tessera.Models.Tests.Llama;

/// <summary>The vocabulary of the random decoders written as GGUF by the tests and by bench's `peer llama` (linked
/// there): SentencePiece ("llama") <c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, the 256 byte tokens
/// <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c>, then "▁w{i}" words.</summary>
internal static class RandomLlamaVocab
{
    public static void Add(GgufWriter w, int count)
    {
        var tokens = new string[count];
        var scores = new float[count];
        var types = new int[count];
        for (int i = 0; i < count; i++)
        {
            (tokens[i], types[i]) = i switch
            {
                0 => ("<unk>", 2),
                1 => ("<s>", 3),
                2 => ("</s>", 3),
                < 259 => ($"<0x{i - 3:X2}>", 6),
                _ => ($"\u2581w{i}", 1),
            };
            scores[i] = -i;
        }
        w.Add("tokenizer.ggml.model", GgufValue.From("llama"))
            .Add("tokenizer.ggml.tokens", GgufValue.Array(tokens))
            .Add("tokenizer.ggml.scores", GgufValue.Array(scores))
            .Add("tokenizer.ggml.token_type", GgufValue.Array(types))
            .Add("tokenizer.ggml.bos_token_id", GgufValue.From(1u))
            .Add("tokenizer.ggml.eos_token_id", GgufValue.From(2u));
    }
}
