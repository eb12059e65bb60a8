using System.Globalization;
using System.Text;
using Tessera.Imaging;

namespace Tessera.Models.Ocr.Output;

/// <summary>Settings of <see cref="SearchablePdfWriter"/>.</summary>
public sealed record SearchablePdfOptions
{
    /// <summary>The images' resolution in dots per inch, which sets the page size in points (72 per inch): at the
    /// default 72 one pixel is one point. A page that would pass 14,400 points (200 inches, the largest page PDF
    /// readers must support) is scaled down to fit.</summary>
    public double Dpi { get; init; } = 72;
}

/// <summary>A searchable PDF written by Tessera itself: each page is its image (8-bit gray or RGB, Flate-compressed, or
/// a JPEG file's own bytes)
/// under an invisible text layer (text render mode 3) holding every word where the image shows it, so that viewers
/// select and search the text and pdftotext extracts it in reading order. Words are set in the standard Helvetica
/// font (WinAnsiEncoding: Latin-1 and Windows-1252's extras; other characters become '?', see
/// <see cref="HelveticaWinAnsi"/>), each scaled horizontally (Tz) to its box's width, all words of a line on one
/// baseline sized to the line's height, with a space glyph stretched over each gap between words. Lines are placed by
/// their axis-aligned bounds: the text of a rotated line lies level over it.</summary>
public static class SearchablePdfWriter
{
    // Helvetica's ascender and descender (1/1000 em) as PDF readers take them: a line's text spans the line's
    // height when the font size is height / (Ascent - Descent) and the baseline sits Descent above the bottom.
    private const double Ascent = 718, Descent = -207;

    // PDF 32000-1 annex C.2: page sides of 3 to 14,400 units.
    private const double MaxPagePoints = 14_400;

    /// <summary>Writes <paramref name="document"/> to <paramref name="output"/>, page i showing
    /// <paramref name="pageImage"/>(i). Boxes are scaled from the result's page size to the image's (they agree when
    /// the image is the one OCR read). Images are asked for one at a time, so a long document need not be held in
    /// memory.</summary>
    public static void Write(OcrDocument document, Func<int, Image> pageImage, Stream output, SearchablePdfOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(pageImage);
        Write(document, i => SearchablePdfImage.FromPixels(pageImage(i) ?? throw new TesseraException($"searchable PDF: no image for page {i + 1}")), output, options);
    }

    /// <summary>As the <see cref="Image"/> overload, with each page given as pixels or as a JPEG file's bytes.</summary>
    public static void Write(OcrDocument document, Func<int, SearchablePdfImage> pageImage, Stream output, SearchablePdfOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(pageImage);
        ArgumentNullException.ThrowIfNull(output);
        options ??= new SearchablePdfOptions();
        if (!(options.Dpi is > 0 and <= 10000)) throw new TesseraException($"searchable PDF: Dpi must be in (0, 10000], got {options.Dpi}");
        if (document.Pages.Count == 0) throw new TesseraException("searchable PDF: the document has no pages");

        var pdf = new PdfObjectWriter(output);
        int catalog = pdf.Reserve(), pages = pdf.Reserve(), font = pdf.Reserve(), info = pdf.Reserve();
        var kids = new List<int>();
        for (int p = 0; p < document.Pages.Count; p++)
        {
            var source = pageImage(p) ?? throw new TesseraException($"searchable PDF: no image for page {p + 1}");
            int page = pdf.Reserve(), contents = pdf.Reserve(), xobject = pdf.Reserve();
            kids.Add(page);
            var (iw, ih) = WriteImage(pdf, xobject, source);
            double scale = Math.Min(72.0 / options.Dpi, MaxPagePoints / Math.Max(iw, ih));
            double w = iw * scale, h = ih * scale;
            var result = document.Pages[p].Result;
            var (rw, rh) = OcrOutputText.PageSize(result);
            double sx = rw > 0 ? w / rw : scale, sy = rh > 0 ? h / rh : scale;
            pdf.FlateStream(contents, "", Encoding.ASCII.GetBytes(Content(result, w, h, sx, sy)));
            pdf.Dictionary(page, F($"/Type /Page /Parent {pages} 0 R /MediaBox [0 0 {w:0.###} {h:0.###}] /Contents {contents} 0 R ")
                + $"/Resources << /Font << /F1 {font} 0 R >> /XObject << /Im0 {xobject} 0 R >> /ProcSet [/PDF /Text /ImageB /ImageC] >>");
        }
        pdf.Dictionary(font, "/Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding");
        pdf.Dictionary(pages, $"/Type /Pages /Kids [{string.Join(' ', kids.Select(k => $"{k} 0 R"))}] /Count {kids.Count}");
        pdf.Dictionary(catalog, $"/Type /Catalog /Pages {pages} 0 R");
        pdf.Dictionary(info, "/Producer (Tessera) /Creator (Tessera OCR)");
        pdf.Finish(catalog, info);
    }

    /// <summary>Writes the page's image XObject; returns its size in pixels.</summary>
    private static (int Width, int Height) WriteImage(PdfObjectWriter pdf, int id, SearchablePdfImage source)
    {
        if (source.Jpeg is { } jpeg)
        {
            var frame = JpegFrameInfo.Read(jpeg);
            string space = frame.Components switch
            {
                1 => "DeviceGray",
                3 => "DeviceRGB",
                _ => throw new TesseraException($"searchable PDF: a JPEG of {frame.Components} components (CMYK?) is not carried as it is; give its pixels"),
            };
            pdf.RawStream(id, $"/Type /XObject /Subtype /Image /Width {frame.Width} /Height {frame.Height} /ColorSpace /{space} "
                + "/BitsPerComponent 8 /Filter /DCTDecode", jpeg);
            return (frame.Width, frame.Height);
        }
        var image = source.Pixels!;
        image.Validate();
        bool gray = image.Channels == 1;
        pdf.FlateStream(id, $"/Type /XObject /Subtype /Image /Width {image.Width} /Height {image.Height} "
            + $"/ColorSpace /{(gray ? "DeviceGray" : "DeviceRGB")} /BitsPerComponent 8", gray ? image.Pixels : image.ToRgb());
        return (image.Width, image.Height);
    }

    /// <summary>The page's content stream: the image over the whole page, then the invisible words. Page pixels map to
    /// points by (<paramref name="sx"/>, <paramref name="sy"/>), y flipped (PDF's origin is the bottom left).</summary>
    private static string Content(OcrResult result, double w, double h, double sx, double sy)
    {
        var sb = new StringBuilder();
        sb.Append(F($"q {w:0.###} 0 0 {h:0.###} 0 0 cm /Im0 Do Q\n"));
        var lines = result.Lines.Where(l => l.Words.Count > 0).ToList();
        if (lines.Count == 0) return sb.ToString();
        sb.Append("BT 3 Tr\n");
        foreach (var line in lines)
        {
            var lb = line.Bounds;
            double size = Math.Max(lb.Height * sy, 0.5) * 1000 / (Ascent - Descent);
            double baseline = h - lb.Bottom * sy - Descent * size / 1000;
            sb.Append(F($"/F1 {size:0.###} Tf\n"));
            var words = line.Words;
            for (int i = 0; i < words.Count; i++)
            {
                byte[] codes = HelveticaWinAnsi.Encode(words[i].Text);
                int natural = HelveticaWinAnsi.Width(codes);
                if (natural <= 0) continue;
                var box = words[i].Box;
                double tz = Math.Max(box.Width * sx, 0.1) * 100_000 / (natural * size);
                sb.Append(F($"{tz:0.###} Tz 1 0 0 1 {box.X * sx:0.###} {baseline:0.###} Tm {PdfObjectWriter.Literal(codes)} Tj\n"));
                if (i + 1 < words.Count)
                {
                    // A real space glyph, so that extractors break the words here; stretched over the gap, and tiny
                    // where the boxes touch.
                    double gap = Math.Max((words[i + 1].Box.X - box.Right) * sx, 0.01);
                    double spaceTz = gap * 100_000 / (HelveticaWinAnsi.Widths[0] * size);
                    sb.Append(F($"{spaceTz:0.###} Tz ( ) Tj\n"));
                }
            }
        }
        sb.Append("ET\n");
        return sb.ToString();
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
