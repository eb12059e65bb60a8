namespace Tessera.Imaging;

/// <summary>An image file that cannot be decoded: unreadable, empty, truncated or corrupt, an unsupported format,
/// or too large to decode. The message names the file (or "image" for bytes in memory) and the problem.</summary>
public sealed class ImageFormatException : TesseraException
{
    /// <summary>Creates the exception for <paramref name="source"/>.</summary>
    public ImageFormatException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner!) // a null inner exception is allowed
    {
        Source = source;
        Problem = problem;
    }

    /// <summary>The file (or "image") being decoded.</summary>
    public new string Source { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
