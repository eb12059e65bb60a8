using System.Runtime.CompilerServices;

namespace Tessera.Cpu;

/// <summary>The message of a failed <c>CpuBackend.Check</c>, formatted only when the check fails. Every op checks its
/// operands with a message that names their shapes; built eagerly, those strings were about half of the ~720 KB of
/// managed garbage a decoded token made (a matmul call alone formatted ~4 KB).</summary>
[InterpolatedStringHandler]
internal ref struct CheckMessage
{
    private DefaultInterpolatedStringHandler _text;

    /// <summary>Starts a message that is written only when <paramref name="ok"/> is false.</summary>
    public CheckMessage(int literalLength, int formattedCount, bool ok, out bool shouldAppend)
    {
        shouldAppend = !ok;
        _text = ok ? default : new DefaultInterpolatedStringHandler(literalLength, formattedCount);
    }

    /// <summary>Appends literal text.</summary>
    public void AppendLiteral(string value) => _text.AppendLiteral(value);

    /// <summary>Appends a value.</summary>
    public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

    /// <summary>Appends a value with a format string.</summary>
    public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);

    /// <summary>Appends a string.</summary>
    public void AppendFormatted(string? value) => _text.AppendFormatted(value);

    /// <summary>The message (call once, after a failed check).</summary>
    public string ToStringAndClear() => _text.ToStringAndClear();
}
