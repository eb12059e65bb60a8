using static Tessera.Models.Ocr.Output.OcrOutputText;

namespace Tessera.Models.Ocr.Output;

/// <summary>Tesseract's TSV (<c>tesseract IMG out tsv</c>): a header row, then per page a level-1 row, per block a
/// level-2 (block) and a level-3 (paragraph) row, per line a level-4 row and per word a level-5 row, with columns
/// level, page_num, block_num, par_num, line_num, word_num, left, top, width, height, conf, text. Pages and blocks
/// count from 1 in the document and the page, lines from 1 in the paragraph, words from 1 in the line, as Tesseract
/// counts them; conf is the word's confidence on 0-100 and -1 on the rows above words. Each block is one paragraph.
/// Tabs and line breaks inside a word become spaces, so that every row keeps its 12 columns.</summary>
public static class TsvWriter
{
    /// <summary>The header row.</summary>
    public const string Header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext";

    /// <summary>Writes <paramref name="document"/> as one TSV table to <paramref name="output"/>.</summary>
    public static void Write(OcrDocument document, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(output);
        output.Write(Header + "\n");
        for (int p = 0; p < document.Pages.Count; p++)
        {
            var result = document.Pages[p].Result;
            var (w, h) = PageSize(result);
            int page = p + 1;
            Row(output, 1, page, 0, 0, 0, 0, new OcrBox(0, 0, w, h), "-1", "");
            int block = 0;
            foreach (var b in result.Blocks)
            {
                block++;
                Row(output, 2, page, block, 0, 0, 0, b.Bounds, "-1", "");
                Row(output, 3, page, block, 1, 0, 0, b.Bounds, "-1", "");
                int line = 0;
                foreach (var l in b.Lines)
                {
                    line++;
                    Row(output, 4, page, block, 1, line, 0, l.Bounds, "-1", "");
                    int word = 0;
                    foreach (var wd in l.Words)
                        Row(output, 5, page, block, 1, line, ++word, wd.Box, Percent(wd.Confidence).ToString("0.000000", Inv), Clean(wd.Text));
                }
            }
        }
    }

    private static string Clean(string text) => text.Replace('\t', ' ').Replace('\r', ' ').Replace('\n', ' ');

    private static void Row(TextWriter o, int level, int page, int block, int par, int line, int word, OcrBox box, string conf, string text) =>
        o.Write($"{level}\t{page}\t{block}\t{par}\t{line}\t{word}\t{box.X}\t{box.Y}\t{box.Width}\t{box.Height}\t{conf}\t{text}\n");
}
