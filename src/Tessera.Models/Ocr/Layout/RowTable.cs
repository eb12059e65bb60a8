namespace Tessera.Models.Ocr.Layout;

/// <summary>Tells a table of rows (a form's labels and values, a receipt's items and right-aligned prices) from two
/// columns of running text, for the two sides of a vertical whitespace gap that XY-Cut would cut along. Tesseract reads
/// such rows left to right ("Name: John" as one row), while a plain cut reads all labels, then all values.
/// A gap is a table's when both hold:
/// <list type="bullet">
/// <item>the sides pair row by row: most lines on each side beside the other side (<see cref="MinPairedFraction"/>)
/// share a row with a line there (their vertical centres closer than <see cref="MaxCentreOffset"/> of the lower
/// line's height);</item>
/// <item>the sides are not both running text: a side is running text when its lines fill it (their median width at
/// least <see cref="MinFill"/> of the side's width), it is at least <see cref="MinWidthToGap"/> times as wide as the
/// gap, and its lines are set close (the median whitespace between consecutive lines under <see cref="MaxLeading"/>
/// of their median height). Labels are ragged
/// (short ones beside long ones), a form's rows are spaced apart, a receipt's price column is a fraction of the
/// whitespace before it; the lines of a text column fill its width, follow each other closely, and its gutter is
/// not much wider than it.</item>
/// </list>
/// All measures are relative to the lines themselves; nothing depends on the page's size or resolution.</summary>
internal static class RowTable
{
    /// <summary>The fraction of each side's lines that must share a row with a line on the other side.</summary>
    public const double MinPairedFraction = 0.6;

    /// <summary>The largest offset of two lines' vertical centres, in the lower line's height, that still puts them
    /// on one row (one baseline, give or take a detector's box).</summary>
    public const double MaxCentreOffset = 0.35;

    /// <summary>The median line width, as a fraction of its side's width, from which a side is filled like running
    /// text (ragged-right prose fills 0.8 to 1; a form's labels about half).</summary>
    public const double MinFill = 0.7;

    /// <summary>The narrowest side, as a multiple of the gap's width, that can be a column of running text.</summary>
    public const double MinWidthToGap = 0.5;

    /// <summary>The whitespace between consecutive lines, in line heights, under which a side's lines are set close
    /// like a paragraph's (DB's boxes are grown, so a single-spaced paragraph's measure well under half a line, text
    /// spaced 1.75 about 0.7; the forms of <c>peer ocr-doc</c> 0.93 and more).</summary>
    public const double MaxLeading = 0.85;

    /// <summary>Whether the lines <paramref name="left"/> and <paramref name="right"/> of a vertical gap
    /// <paramref name="gap"/> pixels wide are rows of a table, to be read row by row rather than cut.</summary>
    public static bool IsTable(IReadOnlyList<OcrBox> boxes, List<int> left, List<int> right, double gap)
    {
        if (left.Count == 0 || right.Count == 0) return false;
        if (Paired(boxes, left, right) < MinPairedFraction || Paired(boxes, right, left) < MinPairedFraction) return false;
        return !(RunningText(boxes, left, gap) && RunningText(boxes, right, gap));
    }

    // The fraction of `side`'s lines beside `other` (their centres within its vertical extent) that share a row with
    // one of its lines; 0 when none is beside it. Lines above or below the other side (a centred footer under a
    // receipt's last row, a value wrapped past the last label) say nothing about rows.
    private static double Paired(IReadOnlyList<OcrBox> boxes, List<int> side, List<int> other)
    {
        int top = other.Min(j => boxes[j].Y), bottom = other.Max(j => boxes[j].Bottom);
        var beside = side.Where(i => boxes[i].Y + boxes[i].Height / 2.0 is var c && c >= top && c <= bottom).ToList();
        return beside.Count == 0 ? 0 : beside.Count(i => other.Any(j => SameRow(boxes[i], boxes[j]))) / (double)beside.Count;
    }

    private static bool SameRow(OcrBox a, OcrBox b)
    {
        double ca = a.Y + a.Height / 2.0, cb = b.Y + b.Height / 2.0;
        return Math.Abs(ca - cb) < MaxCentreOffset * Math.Min(a.Height, b.Height);
    }

    // Whether a side's lines fill its width, it is not much narrower than the gap beside it and its lines are set
    // close (a side of one row is).
    private static bool RunningText(IReadOnlyList<OcrBox> boxes, List<int> side, double gap)
    {
        int x0 = side.Min(i => boxes[i].X), x1 = side.Max(i => boxes[i].Right);
        double width = Math.Max(1, x1 - x0);
        if (Median(side.Select(i => (double)boxes[i].Width)) < MinFill * width || width < MinWidthToGap * gap) return false;
        // Whitespace between each line and the next one below it (lines of one row, several boxes, are skipped).
        var byTop = side.Select(i => boxes[i]).OrderBy(b => b.Y + b.Height / 2.0).ToList();
        var leading = new List<double>();
        for (int k = 1; k < byTop.Count; k++)
            if (byTop[k].Y + byTop[k].Height / 2.0 > byTop[k - 1].Bottom) leading.Add(Math.Max(0, byTop[k].Y - byTop[k - 1].Bottom));
        return leading.Count == 0 || Median(leading) < MaxLeading * Median(side.Select(i => (double)boxes[i].Height));
    }

    private static double Median(IEnumerable<double> values)
    {
        var s = values.OrderBy(v => v).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
