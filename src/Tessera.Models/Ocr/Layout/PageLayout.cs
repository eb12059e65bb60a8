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
    /// <paramref name="mode"/>.</summary>
    public static List<OcrBlock> Arrange(IReadOnlyList<OcrLine> lines, LayoutMode mode)
    {
        if (lines.Count == 0) return [];
        return mode switch
        {
            LayoutMode.Auto => XyCut.Blocks(lines.Select(l => l.Bounds).ToList())
                .Select(b => OcrBlock.Of(b.Select(i => lines[i]).ToList())).ToList(),
            LayoutMode.Sparse => lines.Select(l => OcrBlock.Of([l])).ToList(),
            _ => [OcrBlock.Of(lines)],
        };
    }
}
