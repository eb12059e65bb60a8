namespace Tessera.Formats;

/// <summary>A weight file that cannot be read as what it claims to be: a truncated or corrupt header, offsets past
/// the end, overlapping tensors, unknown types, absurd sizes. The message names the file, the tensor (when there is
/// one) and what is wrong. Reading a hostile file throws this and nothing else.</summary>
public sealed class WeightFormatException : TesseraException
{
    /// <summary>Creates the exception for <paramref name="file"/> (and <paramref name="tensor"/>, when the problem is in one).</summary>
    public WeightFormatException(string file, string? tensor, string problem, Exception? inner = null)
        : base(Format(file, tensor, problem), inner!) // a null inner exception is allowed
    {
        File = file;
        Tensor = tensor;
        Problem = problem;
    }

    /// <summary>The file being read.</summary>
    public string File { get; }

    /// <summary>The tensor concerned, or null for a problem in the file's header or metadata.</summary>
    public string? Tensor { get; }

    /// <summary>What is wrong, without the file and tensor names.</summary>
    public string Problem { get; }

    private static string Format(string file, string? tensor, string problem) =>
        tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}";
}
