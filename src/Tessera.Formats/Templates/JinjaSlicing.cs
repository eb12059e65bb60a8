namespace Tessera.Formats.Templates;

/// <summary>Python slicing <c>seq[start:stop:step]</c> of a list, tuple or string (negative indices and steps).</summary>
internal static class JinjaSlicing
{
    public static object? Slice(object? target, long? start, long? stop, long? step)
    {
        switch (target)
        {
            case JinjaUndefined u: throw new TemplateException(u.Message);
            case List<object?> l: return Pick(l, start, stop, step).ToList();
            case object?[] t: return Pick(t, start, stop, step).ToArray();
            case string s:
                var runes = s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList();
                return string.Concat(Pick(runes, start, stop, step).Select(r => (string)r!));
            default: throw new TemplateException($"'{JinjaValues.TypeName(target)}' object is not subscriptable");
        }
    }

    private static IEnumerable<object?> Pick(IReadOnlyList<object?> items, long? start, long? stop, long? step)
    {
        long n = items.Count;
        long s = step ?? 1;
        if (s == 0) throw new TemplateException("slice step cannot be zero");
        long lo, hi;
        if (s > 0)
        {
            lo = Clamp(start ?? 0, n, 0, n);
            hi = Clamp(stop ?? n, n, 0, n);
            for (long i = lo; i < hi; i += s) yield return items[(int)i];
        }
        else
        {
            lo = start is null ? n - 1 : Clamp(start.Value, n, -1, n - 1);
            hi = stop is null ? -1 : Clamp(stop.Value, n, -1, n - 1);
            for (long i = lo; i > hi; i += s) yield return items[(int)i];
        }
    }

    private static long Clamp(long index, long n, long min, long max)
    {
        if (index < 0) index += n;
        return Math.Clamp(index, min, max);
    }
}
