namespace Tessera.Models.Ocr.Output;

/// <summary>Plain text: one detected line per output line in reading order, a blank line between blocks, and a form
/// feed (U+000C) on a line of its own between pages, where Tesseract ends each page of its text output with one.</summary>
public static class OcrTextWriter
{
    /// <summary>Writes <paramref name="document"/>'s text to <paramref name="output"/>.</summary>
    public static void Write(OcrDocument document, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(output);
        for (int p = 0; p < document.Pages.Count; p++)
        {
            if (p > 0) output.WriteLine('\f');
            var blocks = document.Pages[p].Result.Blocks;
            for (int b = 0; b < blocks.Count; b++)
            {
                if (b > 0) output.WriteLine();
                foreach (var line in blocks[b].Lines) output.WriteLine(line.Text);
            }
        }
    }
}
