namespace Tessera.Models.Ocr.Layout;

/// <summary>Blocks and reading order of text lines by recursive XY-Cut (Nagy and Seth 1984) on their boxes. A region
/// is cut along its widest vertical whitespace gap (a gutter between columns, a sidebar's edge) when it has one, the
/// left part read before the right; otherwise along its widest horizontal gap, the upper part first; a region with
/// no gap left is one block, read row by row, left to right. Vertical cuts come first, since a gutter runs the whole
/// height of its columns while their rows' gaps may line up across them. Rules on top of the plain cut:
/// <list type="bullet">
/// <item>a vertical cut needs a gap of at least <see cref="MinColumnGap"/> line heights, so that one line found as
/// several boxes is never split, and a line on each side sharing rows with one on the other (blocks stacked one
/// under the other, each to one side, are read top to bottom);</item>
/// <item>horizontal gaps are found on boxes shrunk vertically (<see cref="RowShrink"/> of their height each side),
/// since DB's unclipped boxes of consecutive lines may overlap a little;</item>
/// <item>a vertical gap between the label and value columns of a form, or the items and prices of a receipt, is not
/// cut (<see cref="RowTable"/>): the region is cut into rows instead, each read left to right;</item>
/// <item>a right-aligned title beside text on its left is cut from the rows below it first (they span the page) and
/// then from its row's text, which is read before it: the title stays with its row;</item>
/// <item>consecutive pieces join one block when the next starts on a row below the previous one's last line, less
/// than <see cref="MinBlockGap"/> line heights under it, overlapping it horizontally (the lines of one column or
/// paragraph); a piece to the right or further down starts a new block.</item>
/// </list></summary>
internal static class XyCut
{
    /// <summary>The narrowest vertical gap, in median line heights, that separates columns.</summary>
    public const double MinColumnGap = 1.0;

    /// <summary>The narrowest gap between rows, in median line heights, that starts a new block.</summary>
    public const double MinBlockGap = 0.9;

    /// <summary>The fraction of a box's height taken off its top and bottom when finding rows.</summary>
    public const double RowShrink = 0.15;

    /// <summary>The blocks of <paramref name="boxes"/> in reading order, each a list of indices into
    /// <paramref name="boxes"/> in reading order. Every index appears once.</summary>
    public static List<List<int>> Blocks(IReadOnlyList<OcrBox> boxes)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        if (boxes.Count == 0) return [];
        double lh = Math.Max(1, Median(boxes.Select(b => (double)b.Height)));
        var pieces = new List<List<int>>();
        Segment(boxes, Enumerable.Range(0, boxes.Count).ToList(), lh, 0, pieces);
        var blocks = new List<List<int>>();
        foreach (var piece in pieces)
        {
            if (blocks.Count > 0 && Continues(boxes[blocks[^1][^1]], boxes[piece[0]], lh)) blocks[^1].AddRange(piece);
            else blocks.Add(piece);
        }
        return blocks;
    }

    // Appends the region's uncut pieces in reading order.
    private static void Segment(IReadOnlyList<OcrBox> boxes, List<int> ids, double lh, int depth, List<List<int>> pieces)
    {
        // Deep recursion only on pathological input; read what is left row by row.
        if (ids.Count == 1 || depth > 200) { pieces.Add(RowOrder(boxes, ids)); return; }
        if (ColumnCut(boxes, ids, lh) is var (x, gap)
            && ids.Where(i => boxes[i].X + boxes[i].Width / 2.0 < x).ToList() is var left
            && ids.Where(i => boxes[i].X + boxes[i].Width / 2.0 >= x).ToList() is var right
            && SideBySide(boxes, left, right)
            && !RowTable.IsTable(boxes, left, right, gap))
        {
            Segment(boxes, left, lh, depth + 1, pieces);
            Segment(boxes, right, lh, depth + 1, pieces);
        }
        else if (RowCut(boxes, ids) is { } y)
        {
            Segment(boxes, ids.Where(i => Band(boxes[i]).Top < y).ToList(), lh, depth + 1, pieces);
            Segment(boxes, ids.Where(i => Band(boxes[i]).Top >= y).ToList(), lh, depth + 1, pieces);
        }
        else pieces.Add(RowOrder(boxes, ids));
    }

    // Whether some line on one side of a vertical gap shares rows with a line on the other: columns run side by side.
    // Blocks stacked one under the other, each to one side (a letter's sender block top right above the recipient's
    // at the left), share none and are cut into rows instead, read top to bottom.
    private static bool SideBySide(IReadOnlyList<OcrBox> boxes, List<int> left, List<int> right) =>
        left.Any(i => right.Any(j => Math.Min(Band(boxes[i]).Bottom, Band(boxes[j]).Bottom) > Math.Max(Band(boxes[i]).Top, Band(boxes[j]).Top)));

    // Whether a piece starting with line b continues the block ending with line a: b's row is below a's, close,
    // and they overlap horizontally.
    private static bool Continues(OcrBox a, OcrBox b, double lh) =>
        Band(b).Top >= Band(a).Bottom && b.Y - a.Bottom < MinBlockGap * lh && a.X < b.Right && b.X < a.Right;

    private static (double Top, double Bottom) Band(OcrBox b) => (b.Y + RowShrink * b.Height, b.Bottom - RowShrink * b.Height);

    // The middle of the widest horizontal gap between the boxes' shrunk vertical extents, or null when none.
    private static double? RowCut(IReadOnlyList<OcrBox> boxes, List<int> ids)
    {
        double best = 0, at = double.NaN, reach = double.NaN;
        foreach (var (top, bottom) in ids.Select(i => Band(boxes[i])).OrderBy(b => b.Top))
        {
            if (!double.IsNaN(reach) && top - reach > best) { best = top - reach; at = (top + reach) / 2; }
            reach = double.IsNaN(reach) ? bottom : Math.Max(reach, bottom);
        }
        return double.IsNaN(at) ? null : at;
    }

    // The middle of the widest vertical gap of at least MinColumnGap line heights between the boxes' x extents and
    // the gap's width, or null when there is none.
    private static (double At, double Gap)? ColumnCut(IReadOnlyList<OcrBox> boxes, List<int> ids, double lh)
    {
        double best = MinColumnGap * lh - 1e-9, at = double.NaN;
        int reach = int.MinValue;
        foreach (var b in ids.Select(i => boxes[i]).OrderBy(b => b.X))
        {
            if (reach != int.MinValue && b.X - reach > best) { best = b.X - reach; at = (b.X + reach) / 2.0; }
            reach = Math.Max(reach, b.Right);
        }
        return double.IsNaN(at) ? null : (at, best);
    }

    // Boxes without a cut between them: lines by their vertical centres (a box whose centre lies within the current
    // line's extent joins it), each line left to right.
    private static List<int> RowOrder(IReadOnlyList<OcrBox> boxes, List<int> ids)
    {
        var order = new List<int>();
        var line = new List<int>();
        double bottom = double.NegativeInfinity;
        foreach (int i in ids.OrderBy(i => boxes[i].Y + boxes[i].Height / 2.0))
        {
            double centre = boxes[i].Y + boxes[i].Height / 2.0;
            if (line.Count > 0 && centre > bottom)
            {
                order.AddRange(line.OrderBy(j => boxes[j].X));
                line.Clear();
            }
            bottom = line.Count == 0 ? boxes[i].Bottom : Math.Max(bottom, boxes[i].Bottom);
            line.Add(i);
        }
        order.AddRange(line.OrderBy(j => boxes[j].X));
        return order;
    }

    private static bool Overlaps(OcrBox a, OcrBox b) => a.X < b.Right && b.X < a.Right;

    private static double Median(IEnumerable<double> values)
    {
        var s = values.OrderBy(v => v).ToArray();
        return s.Length == 0 ? 0 : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
