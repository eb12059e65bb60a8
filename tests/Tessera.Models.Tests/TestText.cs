using Tessera.Imaging;
namespace Tessera.Models.Tests;

/// <summary>Renders text lines the tests can read back: a 5x7 bitmap font (digits and capitals, drawn here),
/// scaled up with a margin, dark ink on a light page, as a 3-channel RGB image.</summary>
public static class TestText
{
    // Each glyph: 7 rows of 5 columns, '#' ink.
    private static readonly Dictionary<char, string[]> Font = new()
    {
        ['0'] = [" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "],
        ['1'] = ["  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
        ['2'] = [" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"],
        ['3'] = ["#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "],
        ['4'] = ["   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "],
        ['5'] = ["#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "],
        ['6'] = ["  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "],
        ['7'] = ["#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "],
        ['8'] = [" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "],
        ['9'] = [" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "],
        ['A'] = [" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"],
        ['E'] = ["#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"],
        ['H'] = ["#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"],
        ['L'] = ["#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####"],
        ['O'] = [" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "],
        ['T'] = ["#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "],
        [' '] = ["     ", "     ", "     ", "     ", "     ", "     ", "     "],
    };

    /// <summary>The text at <paramref name="scale"/> pixels a font dot, one dot between glyphs, a margin of
    /// two dots; ink (30, 30, 40) on paper (235, 235, 225).</summary>
    public static Image Render(string text, int scale = 4)
    {
        int cols = text.Length * 6 - 1 + 4, rows = 7 + 4;
        int w = cols * scale, h = rows * scale;
        var px = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) { px[3 * i] = 235; px[3 * i + 1] = 235; px[3 * i + 2] = 225; }
        for (int k = 0; k < text.Length; k++)
        {
            var g = Font[text[k]];
            for (int r = 0; r < 7; r++)
                for (int c = 0; c < 5; c++)
                {
                    if (g[r][c] != '#') continue;
                    int x0 = (2 + k * 6 + c) * scale, y0 = (2 + r) * scale;
                    for (int y = y0; y < y0 + scale; y++)
                        for (int x = x0; x < x0 + scale; x++)
                        {
                            int at = (y * w + x) * 3;
                            px[at] = 30; px[at + 1] = 30; px[at + 2] = 40;
                        }
                }
        }
        return new Image(px, w, h, 3);
    }
}
