using System.Globalization;

namespace Tessera.Bench.DocPages;

/// <summary>A piece of a drawn page: text wrapped in a box, empty space, or pieces stacked down or side by side.
/// ImageMagick measures and places everything (caption wraps at spaces, -append stacks), so no text width is guessed
/// here; the page's truth is its text pieces in the order the tree lists them.</summary>
internal abstract record Piece
{
    /// <summary>This piece's ImageMagick arguments: they leave exactly one image on the list.</summary>
    public abstract IEnumerable<string> Argv();

    /// <summary>The text of every <see cref="Text"/> inside, in reading order.</summary>
    public abstract IEnumerable<string> Texts();

    /// <summary>The whole page's arguments, from a white canvas to <paramref name="pngPath"/>, with
    /// <paramref name="scan"/> effects (rotation, noise, blur) after the page is laid out.</summary>
    public static List<string> PageArgv(Piece root, int margin, IEnumerable<string> scan, string pngPath)
    {
        // -respect-parentheses scopes each piece's -font, -size and -gravity to its own parentheses.
        var argv = new List<string> { "-respect-parentheses", "-background", "white", "-fill", "black" };
        argv.AddRange(root.Argv());
        argv.AddRange(["-bordercolor", "white", "-border", margin.ToString(CultureInfo.InvariantCulture), "+repage"]);
        argv.AddRange(scan);
        argv.AddRange(["-type", "TrueColor", "-depth", "8", "PNG24:" + pngPath]);
        return argv;
    }
}

/// <summary>Text wrapped at spaces to <paramref name="Width"/> pixels, aligned West, East or Center in its box.</summary>
internal sealed record Text(string Content, int Width, string Font, int Size, string Align = "West") : Piece
{
    public override IEnumerable<string> Argv() =>
        ["(", "-size", $"{Width}x", "-font", Font, "-pointsize", Size.ToString(CultureInfo.InvariantCulture),
            "-gravity", Align, "caption:" + Escape(Content), ")"];

    public override IEnumerable<string> Texts() => [Content];

    // caption: expands % escapes and backslash sequences; a leading @ would read a file.
    private static string Escape(string s)
    {
        if (s.StartsWith('@')) throw new ArgumentException($"drawn text may not start with '@': {s}");
        return s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "%%", StringComparison.Ordinal);
    }
}

/// <summary>White space of a given size.</summary>
internal sealed record Space(int Width, int Height) : Piece
{
    public override IEnumerable<string> Argv() => ["(", "-size", $"{Math.Max(1, Width)}x{Math.Max(1, Height)}", "xc:white", ")"];

    public override IEnumerable<string> Texts() => [];
}

/// <summary>Pieces side by side (<paramref name="Across"/>) or stacked down, top- and left-aligned, with
/// <paramref name="Gap"/> pixels between them.</summary>
internal sealed record Stack(bool Across, int Gap, params Piece[] Items) : Piece
{
    public override IEnumerable<string> Argv()
    {
        var argv = new List<string> { "(" };
        for (int i = 0; i < Items.Length; i++)
        {
            if (i > 0 && Gap > 0) argv.AddRange(new Space(Across ? Gap : 1, Across ? 1 : Gap).Argv());
            argv.AddRange(Items[i].Argv());
        }
        argv.AddRange(["-gravity", "NorthWest", Across ? "+append" : "-append", ")"]);
        return argv;
    }

    public override IEnumerable<string> Texts() => Items.SelectMany(i => i.Texts());

    /// <summary>Pieces stacked down.</summary>
    public static Stack Down(int gap, params Piece[] items) => new(false, gap, items);

    /// <summary>Pieces side by side.</summary>
    public static Stack Row(int gap, params Piece[] items) => new(true, gap, items);
}
