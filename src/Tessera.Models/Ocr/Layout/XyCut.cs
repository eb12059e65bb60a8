namespace Tessera.Models.Ocr.Layout;

/// <summary>Blocks and reading order of text lines by recursive XY-Cut (Nagy and Seth 1984) on their boxes: a region
/// is cut along a vertical whitespace gap (a gutter between columns or a sidebar) when it has one, the left part read
/// before the right; otherwise into rows along its horizontal gaps, top to bottom. Rules on top of the plain cut:
/// <list type="bullet">
/// <item>a vertical cut needs a gap of at least <see cref="MinColumnGap"/> line heights, so that one line found as
/// several boxes is never split into columns;</item>
/// <item>rows are found on boxes shrunk vertically (<see cref="RowShrink"/> of their height each side), since DB's
/// unclipped boxes of consecutive lines may overlap a little;</item>
/// <item>a row that cuts into several pieces (a right-aligned title beside the text on its left) is read left to
/// right before the next row, so the title stays with its row;</item>
/// <item>consecutive rows of one piece each join one block unless a wide gap (<see cref="MinBlockGap"/> line heights)
/// or no horizontal overlap separates them.</item>
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
        double lineHeight = Math.Max(1, Median(boxes.Select(b => (double)b.Height)));
        return Segment(boxes, Enumerable.Range(0, boxes.Count).ToList(), lineHeight, 0);
    }

    private static List<List<int>> Segment(IReadOnlyList<OcrBox> boxes, List<int> ids, double lh, int depth)
    {
        if (ids.Count == 1) return [ids];
        // Deep recursion only on pathological input; read what is left row by row.
        if (depth > 64) return [RowOrder(boxes, ids)];
        if (ColumnCut(boxes, ids, lh) is { } cut)
        {
            var left = ids.Where(i => boxes[i].X + boxes[i].Width / 2.0 < cut).ToList();
            var right = ids.Where(i => boxes[i].X + boxes[i].Width / 2.0 >= cut).ToList();
            return [.. Segment(boxes, left, lh, depth + 1), .. Segment(boxes, right, lh, depth + 1)];
        }
        var rows = Rows(boxes, ids);
        if (rows.Count == 1) return [RowOrder(boxes, ids)];
        var blocks = new List<List<int>>();
        bool lastSingle = false;
        int lastBottom = 0;
        foreach (var row in rows)
        {
            var pieces = Segment(boxes, row, lh, depth + 1);
            var rowBox = OcrBox.Union(row.Select(i => boxes[i]));
            bool single = pieces.Count == 1;
            if (single && lastSingle && rowBox.Y - lastBottom < MinBlockGap * lh
                && Overlaps(OcrBox.Union(blocks[^1].Select(i => boxes[i])), rowBox))
                blocks[^1].AddRange(pieces[0]);
            else blocks.AddRange(pieces);
            lastSingle = single;
            lastBottom = rowBox.Bottom;
        }
        return blocks;
    }

    // The middle of the widest vertical gap of at least MinColumnGap line heights between the boxes' x extents,
    // or null when there is none.
    private static double? ColumnCut(IReadOnlyList<OcrBox> boxes, List<int> ids, double lh)
    {
        double best = MinColumnGap * lh - 1e-9, at = double.NaN;
        int reach = int.MinValue;
        foreach (var b in ids.Select(i => boxes[i]).OrderBy(b => b.X))
        {
            if (reach != int.MinValue && b.X - reach > best) { best = b.X - reach; at = (b.X + reach) / 2.0; }
            reach = Math.Max(reach, b.Right);
        }
        return double.IsNaN(at) ? null : at;
    }

    // The region's rows: groups of boxes whose shrunk vertical extents chain together, top to bottom.
    private static List<List<int>> Rows(IReadOnlyList<OcrBox> boxes, List<int> ids)
    {
        (double Top, double Bottom) Band(int i) =>
            (boxes[i].Y + RowShrink * boxes[i].Height, boxes[i].Bottom - RowShrink * boxes[i].Height);
        var rows = new List<List<int>>();
        double reach = double.NegativeInfinity;
        foreach (int i in ids.OrderBy(i => Band(i).Top))
        {
            var (top, bottom) = Band(i);
            if (rows.Count == 0 || top >= reach) { rows.Add([i]); reach = bottom; }
            else { rows[^1].Add(i); reach = Math.Max(reach, bottom); }
        }
        return rows;
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
