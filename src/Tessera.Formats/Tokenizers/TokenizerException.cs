namespace Tessera.Formats.Tokenizers;

/// <summary>A vocabulary that cannot be used as what it claims to be (missing or mistyped keys, duplicate tokens, merges
/// of unknown tokens, ids out of range), or a request the tokenizer cannot honour. The message says what is wrong.</summary>
public sealed class TokenizerException : TesseraException
{
    /// <summary>Creates the exception with its message.</summary>
    public TokenizerException(string message) : base(message) { }
}
