using System.Globalization;
using System.Text;
using System.Xml;

namespace Tessera.Models.Ocr.Output;

/// <summary>What the document writers share: page sizes, confidences on Tesseract's scale, XML escaping.</summary>
internal static class OcrOutputText
{
    internal static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The page's size: the result's page size when known, else the box holding everything on it (a result
    /// built by hand may not carry its page size).</summary>
    internal static (int Width, int Height) PageSize(OcrResult result)
    {
        if (result.PageWidth > 0 && result.PageHeight > 0) return (result.PageWidth, result.PageHeight);
        var all = OcrBox.Union(result.Lines.Select(l => l.Bounds));
        return (Math.Max(0, all.Right), Math.Max(0, all.Bottom));
    }

    /// <summary>A 0-1 confidence on Tesseract's 0-100 scale, clamped (NaN reads as 0).</summary>
    internal static double Percent(float confidence) =>
        float.IsNaN(confidence) ? 0 : Math.Clamp((double)(confidence * 100f), 0, 100); // in float: 0.9f reads as 90, not 89.999998

    /// <summary>A 0-1 confidence clamped to 0-1 (NaN reads as 0).</summary>
    internal static double Unit(float confidence) => float.IsNaN(confidence) ? 0 : Math.Clamp(confidence, 0.0, 1.0);

    /// <summary><paramref name="s"/> safe inside XML text and in attributes quoted either way; characters XML cannot
    /// hold at all (control characters, lone surrogates) become '?', so that the file always parses.</summary>
    internal static string Xml(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                sb.Append(c).Append(s[++i]);
                continue;
            }
            sb.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                // As references, so that attribute values keep them (a parser turns literal ones into spaces).
                '\t' => "&#9;",
                '\n' => "&#10;",
                '\r' => "&#13;",
                _ when XmlConvert.IsXmlChar(c) => c.ToString(),
                _ => "?",
            });
        }
        return sb.ToString();
    }

    /// <summary>"x0 y0 x1 y1", hOCR's bbox order.</summary>
    internal static string Bbox(OcrBox b) => string.Create(Inv, $"{b.X} {b.Y} {b.Right} {b.Bottom}");
}
