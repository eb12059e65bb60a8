using System.Globalization;
using System.Text;

namespace Tessera.Formats.Templates;

/// <summary>Python's float repr (the shortest text that reads back to the same double): <c>1.0</c>, <c>0.0001</c>,
/// <c>1e-05</c>, <c>1e+16</c>, <c>inf</c>, <c>nan</c>; json.dumps uses the same digits.</summary>
internal static class PyFloat
{
    public static string Repr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // "R" gives the shortest round-trip digits (plain or d.dddE+xx): take its digits and exponent.
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = shortest[0] == '-';
        if (negative) shortest = shortest[1..];
        int exp = 0;
        int e = shortest.IndexOfAny(['E', 'e']);
        string mantissa = shortest;
        if (e >= 0)
        {
            exp = int.Parse(shortest[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            mantissa = shortest[..e];
        }
        int dot = mantissa.IndexOf('.');
        string intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        string fracPart = dot >= 0 ? mantissa[(dot + 1)..] : "";
        string digits = (intPart + fracPart).TrimStart('0');
        // Decimal exponent of the first significant digit.
        int leadingZeros = (intPart + fracPart).Length - (intPart + fracPart).TrimStart('0').Length;
        int decExp = intPart.Length - 1 - leadingZeros + exp;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";

        var sb = new StringBuilder();
        if (negative) sb.Append('-');
        if (decExp < -4 || decExp >= 16)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(decExp < 0 ? '-' : '+').Append(Math.Abs(decExp).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (decExp < 0)
        {
            sb.Append("0.").Append('0', -decExp - 1).Append(digits);
        }
        else if (digits.Length <= decExp + 1)
        {
            sb.Append(digits).Append('0', decExp + 1 - digits.Length).Append(".0");
        }
        else
        {
            sb.Append(digits, 0, decExp + 1).Append('.').Append(digits, decExp + 1, digits.Length - decExp - 1);
        }
        return sb.ToString();
    }
}
