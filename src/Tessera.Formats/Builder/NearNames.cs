namespace Tessera.Formats;

/// <summary>The stored names nearest to a name that was not found, for the "did you mean" part of an error: names
/// that end with it or that it ends with (a prefix off by a level), then the smallest edit distances.</summary>
internal static class NearNames
{
    // Edit distances cost O(len^2) each; past this many names only the suffix matches are offered.
    private const int MaxNamesForDistance = 20_000;

    public static List<string> Find(string wanted, IEnumerable<string> stored, int count = 3)
    {
        var names = stored.Distinct().ToList();
        var suffix = names.Where(n => n.EndsWith("." + wanted, StringComparison.Ordinal) || wanted.EndsWith("." + n, StringComparison.Ordinal)).Take(count).ToList();
        if (suffix.Count > 0 || names.Count > MaxNamesForDistance) return suffix;
        int limit = Math.Max(3, wanted.Length / 3);
        return names.Select(n => (Name: n, Distance: Distance(wanted, n)))
            .Where(p => p.Distance <= limit)
            .OrderBy(p => p.Distance).ThenBy(p => p.Name, StringComparer.Ordinal)
            .Take(count).Select(p => p.Name).ToList();
    }

    /// <summary>Levenshtein distance, two rows.</summary>
    public static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
