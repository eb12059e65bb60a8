using System.Text.RegularExpressions;

namespace Tessera.Kernels.Compiler;

/// <summary>What the driver will see in a PTX module: the entry's name, its .param declarations (size and
/// alignment of each) and its static .shared allocations. Read from the PTX text itself so the manifest is
/// checked against the code that is actually loaded.</summary>
internal sealed partial record PtxText(string EntryPoint, List<(int Size, int Alignment)> Params, int StaticSharedBytes)
{
    public static PtxText Parse(string ptx, string expectedEntry)
    {
        var entry = EntryRegex().Match(ptx);
        if (!entry.Success) throw new InvalidOperationException("no .visible .entry in the generated PTX");
        string name = entry.Groups[1].Value;
        if (name != expectedEntry) throw new InvalidOperationException($"PTX entry '{name}' is not the compiled kernel's name '{expectedEntry}'");
        int close = ptx.IndexOf(')', entry.Index);
        string header = ptx[(entry.Index + entry.Length)..close];
        var ps = new List<(int, int)>();
        foreach (Match m in ParamRegex().Matches(header))
        {
            int align = m.Groups["align"].Success ? int.Parse(m.Groups["align"].Value) : 0;
            int width = ScalarBytes(m.Groups["type"].Value);
            int count = m.Groups["count"].Success ? int.Parse(m.Groups["count"].Value) : 1;
            ps.Add((width * count, align == 0 ? width : align));
        }
        int shared = 0;
        foreach (Match m in SharedRegex().Matches(ptx))
            shared += ScalarBytes(m.Groups["type"].Value) * (m.Groups["count"].Success ? int.Parse(m.Groups["count"].Value) : 1);
        return new PtxText(name, ps, shared);
    }

    private static int ScalarBytes(string t) => int.Parse(t[1..]) / 8; // b8, u32, f64, s16 ...

    [GeneratedRegex(@"\.visible\s+\.entry\s+([A-Za-z_$][\w$]*)\s*\(")]
    private static partial Regex EntryRegex();

    [GeneratedRegex(@"\.param\s+(?:\.align\s+(?<align>\d+)\s+)?\.(?<type>[bsuf]\d+)\s+[\w$]+(?:\[(?<count>\d+)\])?")]
    private static partial Regex ParamRegex();

    // Static shared allocations; ".extern .shared" (dynamic shared memory) has no size and is not matched.
    [GeneratedRegex(@"(?<!\.extern\s+)\.shared\s+(?:\.align\s+\d+\s+)?\.(?<type>[bsuf]\d+)\s+[\w$]+(?:\[(?<count>\d+)\])?")]
    private static partial Regex SharedRegex();
}
