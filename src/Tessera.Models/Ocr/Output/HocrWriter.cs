using static Tessera.Models.Ocr.Output.OcrOutputText;

namespace Tessera.Models.Ocr.Output;

/// <summary>hOCR 1.2 as Tesseract 5 writes it (<c>tesseract IMG out hocr</c>): an XHTML page with one
/// <c>ocr_page</c> div per page, holding an <c>ocr_carea</c> div and an <c>ocr_par</c> paragraph per block, an
/// <c>ocr_line</c> span per line and an <c>ocrx_word</c> span per word. Ids follow Tesseract's scheme: page_P,
/// block_P_B, par_P_B, line_P_L, word_P_W, numbered from 1 within each page. Titles carry <c>bbox x0 y0 x1 y1</c> in
/// page pixels and, on words, <c>x_wconf</c> (0-100). Tesseract's typographic line properties (baseline, x_size) and
/// its <c>lang</c> attribute are not written: the recogniser does not measure them.</summary>
public static class HocrWriter
{
    /// <summary>Writes <paramref name="document"/> as one hOCR file to <paramref name="output"/>.</summary>
    public static void Write(OcrDocument document, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(output);
        output.Write("""
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
                "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
            <html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
             <head>
              <title></title>
              <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
              <meta name='ocr-system' content='tessera' />
              <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>
             </head>
             <body>

            """);
        for (int p = 0; p < document.Pages.Count; p++) WritePage(document.Pages[p], p + 1, output);
        output.Write(" </body>\n</html>\n");
    }

    private static void WritePage(OcrPage page, int n, TextWriter o)
    {
        var (w, h) = PageSize(page.Result);
        // The title's image name is double-quoted inside a single-quoted attribute, as Tesseract writes it.
        o.Write($"  <div class='ocr_page' id='page_{n}' title='image \"{Xml(page.Source)}\"; bbox 0 0 {w} {h}; ppageno {n - 1}'>\n");
        int block = 0, line = 0, word = 0;
        foreach (var b in page.Result.Blocks)
        {
            block++;
            o.Write($"   <div class='ocr_carea' id='block_{n}_{block}' title=\"bbox {Bbox(b.Bounds)}\">\n");
            o.Write($"    <p class='ocr_par' id='par_{n}_{block}' title=\"bbox {Bbox(b.Bounds)}\">\n");
            foreach (var l in b.Lines)
            {
                o.Write($"     <span class='ocr_line' id='line_{n}_{++line}' title=\"bbox {Bbox(l.Bounds)}\">\n");
                foreach (var wd in l.Words)
                {
                    int conf = (int)Math.Round(Percent(wd.Confidence));
                    o.Write($"      <span class='ocrx_word' id='word_{n}_{++word}' title='bbox {Bbox(wd.Box)}; x_wconf {conf}'>{Xml(wd.Text)}</span>\n");
                }
                o.Write("     </span>\n");
            }
            o.Write("    </p>\n   </div>\n");
        }
        o.Write("  </div>\n");
    }
}
