namespace Tessera.Models.Ocr;

/// <summary>An axis-aligned rectangle in page pixels: whole pixels, (X, Y) its top-left corner (x to the right, y
/// down), covering columns X to X + Width - 1 and rows Y to Y + Height - 1. Integers because the document formats
/// (hOCR, ALTO, TSV) write whole pixels; a box is rounded outward from the geometry it encloses.</summary>
/// <param name="X">Left column.</param>
/// <param name="Y">Top row.</param>
/// <param name="Width">Width in pixels (0 or more).</param>
/// <param name="Height">Height in pixels (0 or more).</param>
public readonly record struct OcrBox(int X, int Y, int Width, int Height)
{
    /// <summary>One past the right column (X + Width).</summary>
    public int Right => X + Width;

    /// <summary>One past the bottom row (Y + Height).</summary>
    public int Bottom => Y + Height;

    /// <summary>The smallest box holding every point (floors the minimum, ceils the maximum); an empty box for no
    /// points.</summary>
    public static OcrBox Enclosing(IEnumerable<OcrPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        float x0 = float.MaxValue, y0 = float.MaxValue, x1 = float.MinValue, y1 = float.MinValue;
        foreach (var p in points)
        {
            x0 = Math.Min(x0, p.X);
            y0 = Math.Min(y0, p.Y);
            x1 = Math.Max(x1, p.X);
            y1 = Math.Max(y1, p.Y);
        }
        if (x0 > x1) return default;
        return FromEdges(x0, y0, x1, y1);
    }

    /// <summary>The smallest box holding every box (an empty box for none).</summary>
    public static OcrBox Union(IEnumerable<OcrBox> boxes)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = int.MinValue, y1 = int.MinValue;
        foreach (var b in boxes)
        {
            x0 = Math.Min(x0, b.X);
            y0 = Math.Min(y0, b.Y);
            x1 = Math.Max(x1, b.Right);
            y1 = Math.Max(y1, b.Bottom);
        }
        return x0 > x1 ? default : new OcrBox(x0, y0, x1 - x0, y1 - y0);
    }

    /// <summary>The part of this box inside <paramref name="other"/> (an empty box at the nearest edge when they do not
    /// meet).</summary>
    public OcrBox Within(OcrBox other)
    {
        int x0 = Math.Clamp(X, other.X, other.Right), y0 = Math.Clamp(Y, other.Y, other.Bottom);
        int x1 = Math.Clamp(Right, other.X, other.Right), y1 = Math.Clamp(Bottom, other.Y, other.Bottom);
        return new OcrBox(x0, y0, Math.Max(0, x1 - x0), Math.Max(0, y1 - y0));
    }

    /// <summary>The box from fractional edges, rounded outward (left and top floored, right and bottom ceiled).</summary>
    public static OcrBox FromEdges(float left, float top, float right, float bottom)
    {
        int x0 = (int)MathF.Floor(left), y0 = (int)MathF.Floor(top);
        int x1 = (int)MathF.Ceiling(right), y1 = (int)MathF.Ceiling(bottom);
        return new OcrBox(x0, y0, Math.Max(0, x1 - x0), Math.Max(0, y1 - y0));
    }
}

/// <summary>One word of a line: a run of characters between spaces.</summary>
/// <param name="Text">The word's characters (no spaces).</param>
/// <param name="Confidence">The recogniser's mean probability of the word's characters, 0 to 1.</param>
/// <param name="Box">The word's rectangle in page pixels.</param>
public sealed record OcrWord(string Text, float Confidence, OcrBox Box);

/// <summary>A block of lines read together (a paragraph, or a column's piece between wider gaps).</summary>
/// <param name="Lines">The block's lines in reading order.</param>
/// <param name="Bounds">The rectangle holding all its lines, in page pixels.</param>
public sealed record OcrBlock(IReadOnlyList<OcrLine> Lines, OcrBox Bounds)
{
    /// <summary>One block of <paramref name="lines"/>, its bounds their union.</summary>
    public static OcrBlock Of(IReadOnlyList<OcrLine> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        return new OcrBlock(lines, OcrBox.Union(lines.Select(l => l.Bounds)));
    }
}

/// <summary>One page of a document: the image it came from and what OCR read on it.</summary>
/// <param name="Source">The image's path or name.</param>
/// <param name="Result">The page's OCR result (its size in <see cref="OcrResult.PageWidth"/> and
/// <see cref="OcrResult.PageHeight"/>).</param>
public sealed record OcrPage(string Source, OcrResult Result);

/// <summary>A multi-page document, pages in order: what the document writers (hOCR, ALTO, TSV, PDF) take.</summary>
/// <param name="Pages">The pages.</param>
public sealed record OcrDocument(IReadOnlyList<OcrPage> Pages);
