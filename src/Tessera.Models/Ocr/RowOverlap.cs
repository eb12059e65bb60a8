namespace Tessera.Models.Ocr;

/// <summary>Removes the words two detected boxes of one row both read. DB splits a justified line at its wide spaces,
/// and its boxes (grown by the unclip ratio) may overlap: the last letter of one box's word then sits inside the next
/// box too, which reads it again as a word of its own ("schedule e the"). A leading word of the right-hand line is
/// dropped when its centre lies inside the left-hand line's box and that line's last word covers it too: both read
/// the same ink, and the left-hand line read it as part of a word.</summary>
internal static class RowOverlap
{
    /// <summary>The lines with such doubly read words removed from the right-hand line of each overlapping pair (its
    /// text re-joined from the words left; a line left without words comes back with empty text and no words).
    /// Lines stay in their order; their boxes, confidences and raw text are unchanged.</summary>
    public static List<OcrLine> RemoveDoubleReads(IReadOnlyList<OcrLine> lines)
    {
        var result = lines.ToList();
        var bounds = lines.Select(l => l.Bounds).ToArray();
        for (int r = 0; r < result.Count; r++)
        {
            var right = bounds[r];
            for (int l = 0; l < result.Count; l++)
            {
                var left = bounds[l];
                if (l == r || !SameRow(left, right)) continue;
                // The left-hand line starts before the right-hand one and reaches into it.
                if (left.X >= right.X || left.Right <= right.X || left.Right >= right.Right) continue;
                var leftWords = result[l].Words;
                var words = result[r].Words;
                if (leftWords.Count == 0 || words.Count == 0) continue;
                var last = leftWords[^1].Box;
                int drop = 0;
                while (drop < words.Count && Centre(words[drop].Box) is var c && c < left.Right && c >= last.X && c < last.Right) drop++;
                if (drop == 0) continue;
                var kept = words.Skip(drop).ToArray();
                result[r] = result[r] with { Text = string.Join(' ', kept.Select(w => w.Text)), Words = kept };
            }
        }
        return result;
    }

    private static double Centre(OcrBox b) => b.X + b.Width / 2.0;

    // Most of the lower box's height shared: one row of text.
    private static bool SameRow(OcrBox a, OcrBox b) =>
        Math.Min(a.Bottom, b.Bottom) - Math.Max(a.Y, b.Y) >= 0.5 * Math.Min(a.Height, b.Height);
}
