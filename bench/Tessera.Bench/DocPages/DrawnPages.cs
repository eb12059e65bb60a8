using System.Globalization;

namespace Tessera.Bench.DocPages;

/// <summary>Page source (a): pages drawn by ImageMagick in DejaVu fonts from a layout tree (<see cref="Piece"/>): two
/// columns, a form of labels and values, a letter, a slide, a receipt, and a scan (one of those turned by a few
/// degrees, with Gaussian and salt-and-pepper noise and blur). The truth is the tree's text in reading order, known by
/// construction: title, then the left column before the right one, a form or receipt row by row (label then value),
/// a letter from the sender's block down to the signature.</summary>
internal static class DrawnPages
{
    private const string Dejavu = "/usr/share/fonts/truetype/dejavu/";
    private static readonly string[] BodyFonts = [Dejavu + "DejaVuSerif.ttf", Dejavu + "DejaVuSans.ttf", Dejavu + "DejaVuSansCondensed.ttf"];
    private const string Bold = Dejavu + "DejaVuSans-Bold.ttf";
    private const string Mono = Dejavu + "DejaVuSansMono.ttf";

    /// <summary>The kinds, in the order pages cycle through them.</summary>
    public static readonly string[] Kinds = ["columns", "form", "letter", "slide", "receipt", "scan"];

    /// <summary>Renders <paramref name="count"/> pages into <paramref name="dir"/> (a file made from the same
    /// arguments is reused).</summary>
    public static List<DocPage> Render(int count, string dir)
    {
        var pages = new List<DocPage>();
        for (int i = 0; i < count; i++)
        {
            string kind = Kinds[i % Kinds.Length];
            var text = new DocText(1000 + i);
            string font = BodyFonts[i % BodyFonts.Length];
            Piece root;
            string[] scan = [];
            int margin = 70;
            if (kind == "scan")
            {
                // A scan of one of the other kinds: turned 1.5 to 4 degrees either way, then (in gray, as a scanner gives) noise and a little blur.
                root = Build(Kinds[text.Next(0, Kinds.Length - 1)], text, font);
                double angle = (text.Next(15, 41) / 10.0) * (text.Next(0, 2) == 0 ? -1 : 1);
                scan = ["-colorspace", "Gray", "-background", "white", "-rotate", angle.ToString("F1", CultureInfo.InvariantCulture), "+repage",
                    "-attenuate", "0.5", "+noise", "Gaussian", "-attenuate", "0.08", "+noise", "Impulse", "-blur", "0x0.7"];
            }
            else root = Build(kind, text, font);
            string truth = string.Join(" ", root.Texts());
            var argv = Piece.PageArgv(root, margin, scan, "OUT");
            string path = Path.Combine(dir, $"drawn-{i:D2}-{kind}-{DocTools.Hash(string.Join('\u0001', argv))}.png");
            argv[^1] = "PNG24:" + path;
            if (!File.Exists(path)) DocTools.Run("convert", argv);
            pages.Add(new("drawn", $"drawn-{i:D2}-{kind}", path, truth));
        }
        return pages;
    }

    private static Piece Build(string kind, DocText t, string font) => kind switch
    {
        "columns" => Columns(t, font),
        "form" => Form(t, font),
        "letter" => Letter(t, font),
        "slide" => Slide(t, font),
        "receipt" => Receipt(t),
        _ => throw new ArgumentException($"unknown drawn page kind '{kind}'"),
    };

    // A title across the page, a byline, two columns of paragraphs, a footer.
    private static Piece Columns(DocText t, string font)
    {
        const int colWidth = 520, gap = 60, size = 21;
        Piece Column(int paragraphs) => Stack.Down(18, Enumerable.Range(0, paragraphs).Select(_ => (Piece)new Text(t.Paragraph(t.Next(2, 4)), colWidth, font, size)).ToArray());
        return Stack.Down(28,
            new Text(t.Title(), 2 * colWidth + gap, Bold, 38),
            new Text($"By {t.Name()}, {t.Date()}", 2 * colWidth + gap, font, 19),
            Stack.Row(gap, Column(3), Column(3)),
            new Text($"{t.Title()} page {t.Next(2, 40)}", 2 * colWidth + gap, font, 17, "Center"));
    }

    // Labels on the left, values on the right, one row per field.
    private static Piece Form(DocText t, string font)
    {
        const int labelWidth = 330, valueWidth = 640, size = 24;
        (string, string)[] fields =
        [
            ("Full name:", t.Name()), ("Date of birth:", t.Date()), ("Street:", t.StreetLine()), ("Town:", t.TownLine()),
            ("Telephone:", t.Phone()), ("Account number:", $"{t.Next(10000000, 99999999)}"), ("Reference:", $"{t.Word()}-{t.Next(100, 999)}"),
            ("Reason for request:", t.Sentence()), ("Signed on:", t.Date()),
        ];
        var rows = fields.Take(t.Next(6, fields.Length + 1))
            .Select(f => (Piece)Stack.Row(30, new Text(f.Item1, labelWidth, Bold, size), new Text(f.Item2, valueWidth, font, size)));
        return Stack.Down(26, [new Text(t.Title() + " Form", labelWidth + valueWidth + 30, Bold, 34), .. rows]);
    }

    // Sender's block on the right, recipient on the left, the date on the right, the body, the signature.
    private static Piece Letter(DocText t, string font)
    {
        const int width = 1080, size = 22;
        Piece Block(string align, params string[] lines) => Stack.Down(4, lines.Select(l => (Piece)new Text(l, 460, font, size, align)).ToArray());
        string sender = t.Name(), recipient = t.Name();
        var body = Enumerable.Range(0, t.Next(2, 4)).Select(_ => (Piece)new Text(t.Paragraph(t.Next(2, 4)), width, font, size));
        return Stack.Down(30,
        [
            Stack.Row(width - 460, new Space(1, 1), Block("East", sender, t.StreetLine(), t.TownLine(), t.Phone())),
            Block("West", recipient, t.StreetLine(), t.TownLine()),
            Stack.Row(width - 460, new Space(1, 1), new Text(t.Date(), 460, font, size, "East")),
            new Text($"Dear {recipient.Split(' ')[0]},", width, font, size),
            .. body,
            new Text("Yours sincerely,", width, font, size),
            new Text(sender, width, font, size),
        ]);
    }

    // A large title, short points in a large size, a footer with the slide number on the right.
    private static Piece Slide(DocText t, string font)
    {
        const int width = 1400;
        var points = Enumerable.Range(0, t.Next(3, 6)).Select(_ => (Piece)new Text(t.Sentence(), width - 80, font, 34));
        return Stack.Down(44,
        [
            new Text(t.Title(), width, Bold, 58, "Center"),
            Stack.Row(80, new Space(1, 1), Stack.Down(30, points.ToArray())),
            Stack.Row(0, new Text($"{t.Word()} review {t.Date()}", width / 2, font, 22), new Text($"{t.Next(2, 30)}", width / 2, font, 22, "East")),
        ]);
    }

    // A till receipt in a monospaced font: items on the left, prices right-aligned on the same row.
    private static Piece Receipt(DocText t)
    {
        const int width = 520, priceWidth = 150, size = 22;
        Piece Row(string left, string right) => Stack.Row(0, new Text(left, width - priceWidth, Mono, size), new Text(right, priceWidth, Mono, size, "East"));
        var items = Enumerable.Range(0, t.Next(5, 10)).Select(_ => (t.Next(1, 5), t.Good(), t.Amount(30))).ToList();
        decimal total = items.Sum(x => decimal.Parse(x.Item3, CultureInfo.InvariantCulture));
        return Stack.Down(10,
        [
            new Text($"{t.Word().ToUpperInvariant()} STORES", width, Mono, 30, "Center"),
            new Text(t.StreetLine() + ", " + t.TownLine().Split(' ')[0], width, Mono, size - 2, "Center"),
            Row(t.Date(), $"{t.Next(7, 22):D2}:{t.Next(0, 60):D2}"),
            new Space(width, 12),
            .. items.Select(x => Row($"{x.Item1} x {x.Item2}", x.Item3)),
            new Space(width, 12),
            Row("TOTAL", total.ToString("F2", CultureInfo.InvariantCulture)),
            Row("Card payment", total.ToString("F2", CultureInfo.InvariantCulture)),
            new Text("Thank you for your visit", width, Mono, size, "Center"),
        ]);
    }
}
