namespace Tessera.Formats.Tokenizers;

/// <summary>Text to token ids and back, giving exactly the ids llama.cpp gives for the same vocabulary
/// (<c>llama_tokenize</c> / <c>llama_detokenize</c>). Instances are immutable and safe to share between threads.</summary>
public interface ITokenizer
{
    /// <summary>The number of tokens in the vocabulary (ids run from 0 to <c>VocabSize - 1</c>).</summary>
    int VocabSize { get; }

    /// <summary>The beginning-of-sequence token, or null when the vocabulary has none.</summary>
    int? BosId { get; }

    /// <summary>The end-of-sequence token, or null when the vocabulary has none.</summary>
    int? EosId { get; }

    /// <summary>Whether <see cref="Encode"/> with <c>addSpecial</c> puts <see cref="BosId"/> first (GGUF's
    /// <c>tokenizer.ggml.add_bos_token</c>, or the model's default).</summary>
    bool AddBos { get; }

    /// <summary>Whether <see cref="Encode"/> with <c>addSpecial</c> puts <see cref="EosId"/> last.</summary>
    bool AddEos { get; }

    /// <summary>Every token that ends generation (EOS, EOT, <c>&lt;|im_end|&gt;</c> ...), as llama.cpp's
    /// <c>llama_vocab_is_eog</c> decides.</summary>
    IReadOnlySet<int> EndOfGenerationIds { get; }

    /// <summary>Token ids of <paramref name="text"/>. <paramref name="addSpecial"/> adds BOS/EOS (and BERT's SEP) as the
    /// vocabulary asks; <paramref name="parseSpecial"/> lets control-token text in the input (<c>&lt;s&gt;</c>,
    /// <c>&lt;|im_start|&gt;</c>) become those tokens, otherwise it is tokenized as plain text.</summary>
    int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false);

    /// <summary>As <see cref="Encode"/>, on UTF-8 bytes (invalid sequences are handled as llama.cpp handles them: byte
    /// tokens for SentencePiece, U+FFFD for byte-level BPE and WordPiece).</summary>
    int[] EncodeUtf8(ReadOnlySpan<byte> utf8, bool addSpecial = true, bool parseSpecial = false);

    /// <summary>The text of <paramref name="ids"/>, as <c>llama_detokenize(remove_special: false)</c>: SentencePiece's
    /// leading space is removed from the first token only (so after a BOS it stays), and vocabularies that ask for it get
    /// llama.cpp's space clean-up. Control tokens give no text unless <paramref name="renderSpecial"/>. Bytes that are
    /// not valid UTF-8 become U+FFFD.</summary>
    string Decode(ReadOnlySpan<int> ids, bool renderSpecial = false);

    /// <summary>The bytes one token stands for (a byte token is a single byte, possibly part of a UTF-8 sequence).</summary>
    byte[] TokenToPiece(int id, bool renderSpecial = false);

    /// <summary>The token's text as stored in the vocabulary (<c>▁Hello</c>, <c>ĠHello</c>, <c>&lt;0x0A&gt;</c>).</summary>
    string TokenText(int id);

    /// <summary>A decoder for streaming generation: it takes ids one at a time and returns only complete UTF-8 text.</summary>
    StreamingDetokenizer CreateStreamingDetokenizer(bool renderSpecial = false);
}
