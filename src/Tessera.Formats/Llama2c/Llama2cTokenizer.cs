using System.Buffers.Binary;
using Tessera.Formats.Tokenizers;

namespace Tessera.Formats.Llama2c;

/// <summary>A karpathy/llama2.c <c>tokenizer.bin</c>: int32 max_token_length, then per token a float32 score, an int32
/// byte length and the UTF-8 bytes (SentencePiece pieces with "▁" written as a space; BOS and EOS as "\n&lt;s&gt;\n"
/// and "\n&lt;/s&gt;\n"). The token count is not stored: it is the checkpoint's vocab_size. Read as llama.cpp's
/// <c>convert-llama2c-to-ggml</c> reads it: ids 0, 1, 2 become &lt;unk&gt; (unknown), &lt;s&gt; and &lt;/s&gt; (control),
/// "&lt;0xXX&gt;" pieces are byte tokens, spaces turn back into "▁"; a SentencePiece ("llama") vocabulary with unk 0,
/// BOS 1, EOS 2.</summary>
public static class Llama2cTokenizer
{
    /// <summary>The file name llama2.c's run.c looks for beside a checkpoint.</summary>
    public const string DefaultFileName = "tokenizer.bin";

    /// <summary>The tokenizer of <paramref name="path"/> for a model of <paramref name="vocabSize"/> tokens.</summary>
    public static Tokenizer Open(string path, int vocabSize) => Tokenizer.FromVocabulary(Read(path, vocabSize));

    /// <summary>The <c>tokenizer.ggml.*</c> keys llama.cpp's converter writes for this tokenizer.</summary>
    public static IReadOnlyList<KeyValuePair<string, Gguf.GgufValue>> GgufMetadata(string path, int vocabSize) =>
        Gguf.GgufTokenizerMetadata.FromVocabulary(Read(path, vocabSize));

    internal static Vocabulary Read(string path, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (vocabSize <= 0) throw new TokenizerException($"{path}: the vocabulary size must be positive, got {vocabSize}");
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new TokenizerException($"{path}: cannot read the llama2.c tokenizer: {e.Message}"); }
        var span = data.AsSpan();
        if (span.Length < 4) throw new TokenizerException($"{path}: {span.Length} bytes cannot hold a llama2.c tokenizer's header");
        int maxLength = BinaryPrimitives.ReadInt32LittleEndian(span);
        if (maxLength <= 0 || maxLength > 1 << 16)
            throw new TokenizerException($"{path}: max_token_length is {maxLength}: not a llama2.c tokenizer.bin");
        int at = 4;
        var texts = new string[vocabSize];
        var scores = new float[vocabSize];
        var attrs = new TokenAttr[vocabSize];
        for (int i = 0; i < vocabSize; i++)
        {
            if (span.Length - at < 8)
                throw new TokenizerException($"{path}: ends after {i} of the model's {vocabSize} tokens (a tokenizer of another vocabulary?)");
            scores[i] = BinaryPrimitives.ReadSingleLittleEndian(span[at..]);
            int len = BinaryPrimitives.ReadInt32LittleEndian(span[(at + 4)..]);
            at += 8;
            if (len < 0 || len > maxLength || len > span.Length - at)
                throw new TokenizerException($"{path}: token {i} has length {len} (max_token_length {maxLength}, {span.Length - at} bytes left)");
            string text = System.Text.Encoding.UTF8.GetString(span.Slice(at, len));
            at += len;
            var attr = TokenAttr.Normal;
            switch (i)
            {
                case 0: text = "<unk>"; attr = TokenAttr.Unknown; break;
                case 1: text = "<s>"; attr = TokenAttr.Control; break;
                case 2: text = "</s>"; attr = TokenAttr.Control; break;
                default:
                    if (len != 1 && IsByteToken(text)) attr = TokenAttr.Byte;
                    break;
            }
            texts[i] = ByteStrings.FromText(text.Replace(' ', '\u2581'));
            attrs[i] = attr;
        }
        var v = new Vocabulary { Kind = TokenizerKind.SentencePiece, Pre = "", Texts = texts, Scores = scores, Attrs = attrs };
        ModelDefaults.Apply(v, path);   // unk 0, BOS 1, EOS 2, BOS added, leading space
        v.Complete(path);
        return v;
    }

    // llama.cpp's sscanf("<0x%02hhX>"): "<0x", two hex digits, and (as sscanf stops there) anything after.
    private static bool IsByteToken(string t) =>
        t.Length >= 5 && t.StartsWith("<0x", StringComparison.Ordinal) && Uri.IsHexDigit(t[3]) && Uri.IsHexDigit(t[4]);
}
