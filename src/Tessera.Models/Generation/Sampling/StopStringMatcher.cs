using System.Text;

namespace Tessera.Models.Generation.Sampling;

/// <summary>Finds stop strings in streamed text, across the boundaries of the pieces pushed: text is released only once
/// it cannot be the start of a stop string any more, and neither the stop string nor anything after it is released.</summary>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private readonly StringBuilder _held = new();

    /// <summary>A matcher for <paramref name="stops"/> (none: text passes straight through).</summary>
    public StopStringMatcher(IReadOnlyList<string> stops)
    {
        ArgumentNullException.ThrowIfNull(stops);
        foreach (string s in stops)
            if (string.IsNullOrEmpty(s)) throw new TesseraException("stop strings: a stop string is empty");
        _stops = [.. stops];
    }

    /// <summary>The stop string found (null while none is).</summary>
    public string? Matched { get; private set; }

    /// <summary>Takes the next piece of text and returns what can be output now. After a match it returns the text before
    /// the stop string, and nothing for any later push.</summary>
    public string Push(string piece)
    {
        if (Matched is not null) return "";
        _held.Append(piece);
        if (_stops.Length == 0) return Release(_held.Length);
        string text = _held.ToString();
        int first = -1;
        foreach (string s in _stops)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
                Matched = s;
            }
        }
        if (first >= 0)
        {
            string before = text[..first];
            _held.Clear();
            return before;
        }
        // Hold back the longest tail that a stop string starts with.
        int hold = 0;
        foreach (string s in _stops)
            for (int n = Math.Min(s.Length - 1, text.Length); n > hold; n--)
                if (string.CompareOrdinal(text, text.Length - n, s, 0, n) == 0)
                {
                    hold = n;
                    break;
                }
        return Release(text.Length - hold);
    }

    /// <summary>At the end of the run: the text still held (none after a match).</summary>
    public string Flush() => Matched is null ? Release(_held.Length) : "";

    private string Release(int count)
    {
        string s = _held.ToString(0, count);
        _held.Remove(0, count);
        return s;
    }
}
