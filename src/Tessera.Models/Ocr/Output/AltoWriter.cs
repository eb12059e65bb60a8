using System.Globalization;
using static Tessera.Models.Ocr.Output.OcrOutputText;

namespace Tessera.Models.Ocr.Output;

/// <summary>ALTO v3 XML as Tesseract 5 writes it (<c>tesseract IMG out alto</c>): a Description (pixel units, the
/// source file, the software), then Layout with one Page per page, its PrintSpace, and per block a ComposedBlock
/// holding one TextBlock of TextLines, each a row of String elements (HPOS, VPOS, WIDTH, HEIGHT in pixels, WC the
/// word confidence 0-1, CONTENT the word) separated by SP elements spanning the gaps. Ids follow Tesseract's scheme
/// (page_N, cblock_N, block_N, line_N, string_N from 0) except that the counters run on across pages, where
/// Tesseract restarts them, so that every ID is unique in the file as XML requires.</summary>
public static class AltoWriter
{
    /// <summary>Writes <paramref name="document"/> as one ALTO file to <paramref name="output"/>.</summary>
    public static void Write(OcrDocument document, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(output);
        var o = output;
        o.Write("""
            <?xml version="1.0" encoding="UTF-8"?>
            <alto xmlns="http://www.loc.gov/standards/alto/ns-v3#" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v3# http://www.loc.gov/alto/v3/alto-3-0.xsd">
            	<Description>
            		<MeasurementUnit>pixel</MeasurementUnit>
            		<sourceImageInformation>

            """);
        // Tesseract names the first image here; ALTO allows one fileName.
        string source = document.Pages.Count > 0 ? document.Pages[0].Source : "";
        o.Write($"\t\t\t<fileName>{Xml(source)}</fileName>\n");
        o.Write("""
            		</sourceImageInformation>
            		<OCRProcessing ID="OCR_0">
            			<ocrProcessingStep>
            				<processingSoftware>
            					<softwareName>tessera</softwareName>
            				</processingSoftware>
            			</ocrProcessingStep>
            		</OCRProcessing>
            	</Description>
            	<Layout>

            """);
        var ids = new Counters();
        for (int p = 0; p < document.Pages.Count; p++) WritePage(document.Pages[p].Result, p, ids, o);
        o.Write("\t</Layout>\n</alto>\n");
    }

    private sealed class Counters
    {
        public int Block, Line, String;
    }

    private static string Pos(OcrBox b) =>
        string.Create(CultureInfo.InvariantCulture, $"HPOS=\"{b.X}\" VPOS=\"{b.Y}\" WIDTH=\"{b.Width}\" HEIGHT=\"{b.Height}\"");

    private static void WritePage(OcrResult page, int index, Counters ids, TextWriter o)
    {
        var (w, h) = PageSize(page);
        o.Write($"\t\t<Page WIDTH=\"{w}\" HEIGHT=\"{h}\" PHYSICAL_IMG_NR=\"{index}\" ID=\"page_{index}\">\n");
        o.Write($"\t\t\t<PrintSpace HPOS=\"0\" VPOS=\"0\" WIDTH=\"{w}\" HEIGHT=\"{h}\">\n");
        foreach (var b in page.Blocks)
        {
            int id = ids.Block++;
            o.Write($"\t\t\t\t<ComposedBlock ID=\"cblock_{id}\" {Pos(b.Bounds)}>\n");
            o.Write($"\t\t\t\t\t<TextBlock ID=\"block_{id}\" {Pos(b.Bounds)}>\n");
            foreach (var l in b.Lines)
            {
                o.Write($"\t\t\t\t\t\t<TextLine ID=\"line_{ids.Line++}\" {Pos(l.Bounds)}>\n");
                var words = l.Words;
                for (int i = 0; i < words.Count; i++)
                {
                    var wd = words[i];
                    string wc = Unit(wd.Confidence).ToString("0.00", Inv);
                    o.Write($"\t\t\t\t\t\t\t<String ID=\"string_{ids.String++}\" {Pos(wd.Box)} WC=\"{wc}\" CONTENT=\"{Xml(wd.Text)}\"/>");
                    if (i + 1 < words.Count)
                    {
                        // The space runs from this word's right edge to the next word's left (none when they touch).
                        int gap = Math.Max(0, words[i + 1].Box.X - wd.Box.Right);
                        o.Write($"<SP WIDTH=\"{gap}\" VPOS=\"{wd.Box.Y}\" HPOS=\"{wd.Box.Right}\"/>");
                    }
                    o.Write('\n');
                }
                o.Write("\t\t\t\t\t\t</TextLine>\n");
            }
            o.Write("\t\t\t\t\t</TextBlock>\n\t\t\t\t</ComposedBlock>\n");
        }
        o.Write("\t\t\t</PrintSpace>\n\t\t</Page>\n");
    }
}
