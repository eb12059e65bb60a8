using System.Globalization;
using System.Text;

namespace Tessera.Formats.Templates;

/// <summary>Python's printf-style <c>"%s: %d" % (a, b)</c> (also Jinja's <c>format</c> filter) for the conversions
/// templates use: %s %r %d %i %f %e %x %c and %%, with flags, width and precision.</summary>
internal static class PyFormat
{
    public static string Percent(string format, IReadOnlyList<object?> args)
    {
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }
            if (++i >= format.Length) throw new TemplateException("incomplete format");
            if (format[i] == '%')
            {
                sb.Append('%');
                continue;
            }
            int start = i;
            while (i < format.Length && format[i] is '-' or '+' or ' ' or '0' or '#') i++;
            string flags = format[start..i];
            int ws = i;
            while (i < format.Length && char.IsAsciiDigit(format[i])) i++;
            int width = i > ws ? JinjaFilters.Width(long.Parse(format.AsSpan(ws, Math.Min(i - ws, 18)), CultureInfo.InvariantCulture), "format") : 0;
            int precision = -1;
            if (i < format.Length && format[i] == '.')
            {
                int ps = ++i;
                while (i < format.Length && char.IsAsciiDigit(format[i])) i++;
                precision = i > ps ? JinjaFilters.Width(long.Parse(format.AsSpan(ps, Math.Min(i - ps, 18)), CultureInfo.InvariantCulture), "format precision") : 0;
            }
            if (i >= format.Length) throw new TemplateException("incomplete format");
            if (next >= args.Count) throw new TemplateException("not enough arguments for format string");
            var arg = args[next++];
            string body = format[i] switch
            {
                's' => precision >= 0 ? JinjaValues.Str(arg)[..Math.Min(precision, JinjaValues.Str(arg).Length)] : JinjaValues.Str(arg),
                'r' => JinjaValues.Repr(arg),
                'd' or 'i' => Signed(JinjaValues.ToLong(arg).ToString(CultureInfo.InvariantCulture), flags),
                'f' or 'F' => Signed(JinjaValues.ToDouble(arg).ToString("F" + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture), flags),
                'e' => Signed(PyExponent(JinjaValues.ToDouble(arg), precision < 0 ? 6 : precision), flags),
                'x' => JinjaValues.ToLong(arg).ToString("x", CultureInfo.InvariantCulture),
                'X' => JinjaValues.ToLong(arg).ToString("X", CultureInfo.InvariantCulture),
                'c' => arg is string ch ? ch : char.ConvertFromUtf32((int)JinjaValues.ToLong(arg)),
                var other => throw new TemplateException($"unsupported format character '{other}'"),
            };
            if (body.Length < width)
            {
                if (flags.Contains('-')) body = body.PadRight(width);
                else if (flags.Contains('0') && format[i] is not ('s' or 'r' or 'c'))
                {
                    bool sign = body.Length > 0 && body[0] is '-' or '+' or ' ';
                    body = sign ? body[0] + body[1..].PadLeft(width - 1, '0') : body.PadLeft(width, '0');
                }
                else body = body.PadLeft(width);
            }
            sb.Append(body);
        }
        if (next < args.Count) throw new TemplateException("not all arguments converted during string formatting");
        return sb.ToString();
    }

    private static string Signed(string s, string flags) =>
        s.StartsWith('-') ? s : flags.Contains('+') ? "+" + s : flags.Contains(' ') ? " " + s : s;

    private static string PyExponent(double d, int precision)
    {
        string s = d.ToString((precision == 0 ? "0" : "0." + new string('0', precision)) + "e+00", CultureInfo.InvariantCulture);
        return s;
    }
}
