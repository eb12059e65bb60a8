using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Bench.DocPages;

/// <summary>Page source (b): HTML documents written here (an article in two CSS columns, a form laid out as a table,
/// a letter, a receipt, a notice), printed to PDF by headless chromium and rasterised at 150 dpi by
/// <c>pdftoppm</c>. The truth is read back from the HTML file itself (<see cref="TruthOf"/>): the text of the body
/// in DOM order, which is the reading order because nothing is floated or reordered by CSS (CSS columns fill the
/// left column first). Its sizes and fonts are CSS's and share nothing with <see cref="DrawnPages"/>.</summary>
internal static partial class HtmlPages
{
    /// <summary>The kinds, in the order pages cycle through them.</summary>
    public static readonly string[] Kinds = ["article", "form", "letter", "receipt", "notice"];

    private const string BaseCss = "@page{size:A4;margin:16mm} body{margin:0;color:#000;hyphens:none;font-variant-ligatures:none} "
        + "h1,h2,p{margin:0 0 0.6em 0} table{border-collapse:collapse} td,th{text-align:left;vertical-align:top}";

    /// <summary>Writes, prints and rasterises <paramref name="count"/> documents in <paramref name="dir"/> (a PNG made
    /// from the same HTML is reused); <paramref name="profileDir"/> is chromium's throwaway user data directory.</summary>
    public static List<DocPage> Render(int count, string dir, string profileDir)
    {
        var pages = new List<DocPage>();
        for (int i = 0; i < count; i++)
        {
            string kind = Kinds[i % Kinds.Length];
            var t = new DocText(5000 + i);
            string html = kind switch
            {
                "article" => Article(t),
                "form" => Form(t),
                "letter" => Letter(t),
                "receipt" => Receipt(t),
                _ => Notice(t),
            };
            string stem = Path.Combine(dir, $"html-{i:D2}-{kind}-{DocTools.Hash(html)}");
            string png = stem + ".png";
            File.WriteAllText(stem + ".html", html, Encoding.UTF8);
            if (!File.Exists(png)) Print(stem, profileDir);
            string truth = TruthOf(html);
            CheckAgainstPdfText(truth, stem + ".pdf");
            pages.Add(new("html", $"html-{i:D2}-{kind}", png, truth));
        }
        return pages;
    }

    private static void Print(string stem, string profileDir)
    {
        DocTools.Run("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
            "--user-data-dir=" + profileDir, "--print-to-pdf=" + stem + ".pdf", stem + ".html"]);
        DocTools.Run("pdftoppm", ["-r", "150", "-png", stem + ".pdf", stem]);
        // pdftoppm names pages stem-1.png (stem-01.png from 10 pages on); a second page means the truth would span pages.
        var made = Directory.GetFiles(Path.GetDirectoryName(stem)!, Path.GetFileName(stem) + "-*.png");
        if (made.Length != 1)
        {
            foreach (var f in made) File.Delete(f);
            throw new InvalidOperationException($"{stem}.html printed to {made.Length} pages; each document must fit one page");
        }
        File.Move(made[0], stem + ".png", overwrite: true);
    }

    // An independent check of the truth: the text chromium put in the PDF, in content order (pdftotext -raw), must
    // be the HTML's text; a difference means the layout lost, hyphenated or reordered something.
    private static void CheckAgainstPdfText(string truth, string pdf)
    {
        string printed = DocTools.Run("pdftotext", ["-raw", "-enc", "UTF-8", pdf, "-"]);
        double cer = PeerOcrDocScore.Cer(truth, printed);
        if (cer > 0.01) throw new InvalidOperationException($"{pdf}: its text differs from the HTML's (CER {cer:F4}); the truth would be wrong");
        if (cer > 0) Console.Error.WriteLine($"ocr-doc: {Path.GetFileName(pdf)}: pdftotext differs from the HTML truth by CER {cer:F4}");
    }

    /// <summary>The text of an HTML document's body in DOM order: a tag other than an inline one (b, i, em, strong,
    /// span) separates words, entities are decoded, runs of white space become one space.</summary>
    internal static string TruthOf(string html)
    {
        int body = html.IndexOf("<body", StringComparison.OrdinalIgnoreCase);
        if (body < 0) throw new ArgumentException("HTML document without <body>");
        string text = Tag().Replace(html[body..], m => m.Groups[1].Value.ToLowerInvariant() is "b" or "i" or "em" or "strong" or "span" ? "" : " ");
        return Space().Replace(WebUtility.HtmlDecode(text), " ").Trim();
    }

    [GeneratedRegex(@"</?([a-zA-Z0-9]+)[^>]*>")]
    private static partial Regex Tag();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Space();

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string Doc(string css, string body) =>
        $"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>page</title><style>{BaseCss} {css}</style></head>\n<body>\n{body}\n</body></html>\n";

    // A headline, a standfirst, two CSS columns of paragraphs with a subheading, a footer line.
    private static string Article(DocText t)
    {
        var sb = new StringBuilder();
        sb.Append($"<h1>{E(t.Title())}</h1>\n<p class=\"lead\">{E(t.Sentence())}</p>\n<div class=\"cols\">\n");
        for (int i = 0; i < 6; i++)
        {
            if (i == 3) sb.Append($"<h2>{E(t.Title())}</h2>\n");
            sb.Append($"<p>{E(t.Paragraph(t.Next(2, 4)))}</p>\n");
        }
        sb.Append($"</div>\n<p class=\"foot\">{E(t.Name())}, {E(t.Date())}</p>");
        return Doc("body{font-family:'DejaVu Serif';font-size:11pt;line-height:1.35} h1{font-family:'DejaVu Sans';font-size:22pt} "
            + "h2{font-size:13pt} .lead{font-style:italic;font-size:12pt} .cols{column-count:2;column-gap:9mm;text-align:justify;margin:6mm 0} "
            + ".foot{font-size:9pt;text-align:right}", sb.ToString());
    }

    // A form as a two-column table: label cells and value cells, row by row.
    private static string Form(DocText t)
    {
        (string, string)[] fields =
        [
            ("Applicant", t.Name()), ("Date of birth", t.Date()), ("Address", t.StreetLine() + ", " + t.TownLine()),
            ("Phone", t.Phone()), ("Membership number", $"{t.Next(100000, 999999)}"), ("Department", t.Title()),
            ("Start date", t.Date()), ("Comments", t.Sentence()), ("Approved by", t.Name()),
        ];
        var sb = new StringBuilder($"<h1>{E(t.Title())}</h1>\n<p>{E(t.Sentence())}</p>\n<table>\n");
        foreach (var (label, value) in fields.Take(t.Next(6, fields.Length + 1)))
            sb.Append($"<tr><th>{E(label)}</th><td>{E(value)}</td></tr>\n");
        sb.Append("</table>");
        return Doc("body{font-family:'DejaVu Sans';font-size:12pt} h1{font-size:18pt} th{width:55mm;padding:3mm 4mm 3mm 0;font-weight:bold} "
            + "td{padding:3mm 0;width:110mm} tr{border-bottom:0.3mm solid #999}", sb.ToString());
    }

    // The sender right-aligned at the top, the recipient, the date, the body and the signature.
    private static string Letter(DocText t)
    {
        string sender = t.Name(), recipient = t.Name();
        var sb = new StringBuilder();
        sb.Append($"<div class=\"from\"><p>{E(sender)}<br>{E(t.StreetLine())}<br>{E(t.TownLine())}</p></div>\n");
        sb.Append($"<p>{E(recipient)}<br>{E(t.StreetLine())}<br>{E(t.TownLine())}</p>\n<p class=\"date\">{E(t.Date())}</p>\n");
        sb.Append($"<p>Dear {E(recipient.Split(' ')[0])},</p>\n");
        for (int i = t.Next(2, 5); i > 0; i--) sb.Append($"<p>{E(t.Paragraph(t.Next(2, 4)))}</p>\n");
        sb.Append($"<p>Kind regards,</p>\n<p class=\"sig\">{E(sender)}</p>");
        return Doc("body{font-family:'DejaVu Sans';font-size:11pt;line-height:1.4} .from{text-align:right;margin-bottom:10mm} "
            + ".date{text-align:right;margin:8mm 0} .sig{margin-top:12mm}", sb.ToString());
    }

    // A narrow receipt: a table of items with right-aligned prices, a total row.
    private static string Receipt(DocText t)
    {
        var sb = new StringBuilder($"<h1>{E(t.Title())}</h1>\n<p class=\"c\">{E(t.StreetLine())}<br>{E(t.Phone())}</p>\n<table>\n");
        decimal total = 0;
        for (int i = t.Next(5, 11); i > 0; i--)
        {
            string amount = t.Amount(40);
            total += decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture);
            sb.Append($"<tr><td>{t.Next(1, 4)} {E(t.Good())}</td><td class=\"r\">{amount}</td></tr>\n");
        }
        sb.Append($"<tr class=\"t\"><td>Total due</td><td class=\"r\">{total.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)}</td></tr>\n</table>\n");
        sb.Append($"<p class=\"c\">{E(t.Date())} {E(t.Sentence())}</p>");
        return Doc("body{font-family:'DejaVu Sans Mono';font-size:12pt;width:95mm;margin:0 auto} h1{font-size:16pt;text-align:center} "
            + ".c{text-align:center} table{width:100%;margin:5mm 0} td{padding:1.2mm 0} .r{text-align:right} .t td{font-weight:bold;border-top:0.4mm dashed #000;padding-top:3mm}",
            sb.ToString());
    }

    // A notice in large type: a heading, a few short points without bullets, a contact line.
    private static string Notice(DocText t)
    {
        var sb = new StringBuilder($"<h1>{E(t.Title())}</h1>\n<ul>\n");
        for (int i = t.Next(3, 6); i > 0; i--) sb.Append($"<li>{E(t.Sentence())}</li>\n");
        sb.Append($"</ul>\n<p class=\"contact\">Contact <b>{E(t.Name())}</b> on {E(t.Phone())}</p>");
        return Doc("@page{size:A4 landscape} body{font-family:'DejaVu Sans Condensed';font-size:20pt} h1{font-size:34pt;text-align:center} "
            + "ul{list-style:none;padding-left:15mm} li{margin:5mm 0} .contact{font-size:13pt;margin-top:12mm}", sb.ToString());
    }
}
