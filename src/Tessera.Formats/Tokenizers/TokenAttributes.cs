namespace Tessera.Formats.Tokenizers;

/// <summary>The kind of vocabulary, after GGUF's <c>tokenizer.ggml.model</c>.</summary>
public enum TokenizerKind
{
    /// <summary>SentencePiece-style BPE merged by score, with byte fallback (<c>llama</c>).</summary>
    SentencePiece,
    /// <summary>Byte-level BPE with ranked merges and a pre-tokenizer regex (<c>gpt2</c>).</summary>
    BytePairEncoding,
    /// <summary>BERT's greedy longest-match WordPiece (<c>bert</c>).</summary>
    WordPiece,
}

/// <summary>llama.cpp's token attributes (<c>llama_token_attr</c>), derived from GGUF's <c>tokenizer.ggml.token_type</c>.</summary>
[Flags]
internal enum TokenAttr
{
    Undefined = 0,
    Unknown = 1 << 0,
    Unused = 1 << 1,
    Normal = 1 << 2,
    Control = 1 << 3,
    UserDefined = 1 << 4,
    Byte = 1 << 5,
    Normalized = 1 << 6,
    LStrip = 1 << 7,
    RStrip = 1 << 8,
}

/// <summary>GGUF's token types (<c>tokenizer.ggml.token_type</c>), as gguf-py writes them.</summary>
internal static class GgufTokenType
{
    public const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    public static TokenAttr ToAttr(int type) => type switch
    {
        Normal => TokenAttr.Normal,
        Unknown => TokenAttr.Unknown,
        Control => TokenAttr.Control,
        UserDefined => TokenAttr.UserDefined,
        Unused => TokenAttr.Unused,
        Byte => TokenAttr.Byte,
        _ => TokenAttr.Undefined,
    };
}
