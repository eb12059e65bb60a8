namespace Tessera.Models.Ocr.Layout;

/// <summary>How a page's lines are grouped into blocks and ordered: Tesseract's page segmentation modes.</summary>
public enum LayoutMode
{
    /// <summary>Blocks and columns by recursive XY-Cut (<see cref="XyCut"/>): columns left to right, blocks top to
    /// bottom within a column (the default).</summary>
    Auto,

    /// <summary>The whole image is one text line (recognition only, as <see cref="OcrOptions.RecognitionOnly"/>).</summary>
    SingleLine,

    /// <summary>One block of all lines, top to bottom and left to right on a row.</summary>
    SingleBlock,

    /// <summary>Sparse text: each line its own block, top to bottom and left to right on a row.</summary>
    Sparse,
}

/// <summary>Puts a page's recognised lines into blocks in reading order.</summary>
internal static class PageLayout
{
    /// <summary>The blocks of <paramref name="lines"/> (given in PaddleOCR's top-to-bottom order) under
    /// <paramref name="mode"/>; XY-Cut orders them by <paramref name="bounds"/> (the lines' boxes in a straightened
    /// page, one per line) when given, else by their own bounds.</summary>
    public static List<OcrBlock> Arrange(IReadOnlyList<OcrLine> lines, LayoutMode mode, IReadOnlyList<OcrBox>? bounds = null)
    {
        if (lines.Count == 0) return [];
        if (bounds is not null && bounds.Count != lines.Count) throw new ArgumentException($"{bounds.Count} bounds for {lines.Count} lines", nameof(bounds));
        return mode switch
        {
            LayoutMode.Auto => XyCut.Blocks(bounds ?? lines.Select(l => l.Bounds).ToList())
                .Select(b => OcrBlock.Of(b.Select(i => lines[i]).ToList())).ToList(),
            LayoutMode.Sparse => lines.Select(l => OcrBlock.Of([l])).ToList(),
            _ => [OcrBlock.Of(lines)],
        };
    }
}
