using System.Text;

namespace Tessera.Formats.Templates;

/// <summary>Python's binary operators and comparisons on template values: + (numbers, str, list, tuple), - * / // % **
/// (str * int repeats), ==, !=, &lt; ..., in and not in. Undefined raises as Jinja2's does.</summary>
internal static class JinjaArithmetic
{
    public static object? Binary(string op, object? a, object? b)
    {
        if (a is JinjaUndefined ua) throw new TemplateException(ua.Message);
        if (b is JinjaUndefined ub) throw new TemplateException(ub.Message);
        if (JinjaValues.IsNumber(a) && JinjaValues.IsNumber(b)) return Numeric(op, a!, b!);
        switch (op)
        {
            case "+" when a is string sa && b is string sb: return sa + sb;
            case "+" when a is List<object?> la && b is List<object?> lb: return la.Concat(lb).ToList();
            case "+" when a is object?[] ta && b is object?[] tb: return ta.Concat(tb).ToArray();
            case "*" when a is string s && b is long or int or bool: return Repeat(s, JinjaValues.ToLong(b));
            case "*" when b is string s && a is long or int or bool: return Repeat(s, JinjaValues.ToLong(a));
            case "*" when a is List<object?> l && b is long or int or bool: return RepeatList(l, JinjaValues.ToLong(b));
            case "%" when a is string f:
                return PyFormat.Percent(f, b is object?[] args ? args : [b]);
        }
        if (op == "+" && a is string)
            throw new TemplateException($"can only concatenate str (not \"{JinjaValues.TypeName(b)}\") to str");
        throw new TemplateException($"unsupported operand type(s) for {op}: '{JinjaValues.TypeName(a)}' and '{JinjaValues.TypeName(b)}'");
    }

    private static string Repeat(string s, long n)
    {
        if (n <= 0) return "";
        if (s.Length * n > 1 << 26) throw new TemplateException($"a string repeated {n} times is too long");
        return new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString();
    }

    private static List<object?> RepeatList(List<object?> l, long n)
    {
        if (l.Count * Math.Max(n, 0) > 1 << 24) throw new TemplateException($"a list repeated {n} times is too long");
        var r = new List<object?>();
        for (long i = 0; i < n; i++) r.AddRange(l);
        return r;
    }

    private static object Numeric(string op, object a, object b)
    {
        bool floats = a is double || b is double;
        if (op == "/")
        {
            double d = JinjaValues.ToDouble(b);
            if (d == 0) throw new TemplateException("division by zero");
            return JinjaValues.ToDouble(a) / d;
        }
        if (op == "**")
        {
            if (!floats && JinjaValues.ToLong(b) >= 0) return IntPow(JinjaValues.ToLong(a), JinjaValues.ToLong(b));
            return Math.Pow(JinjaValues.ToDouble(a), JinjaValues.ToDouble(b));
        }
        if (floats)
        {
            double x = JinjaValues.ToDouble(a), y = JinjaValues.ToDouble(b);
            if (op is "//" or "%" && y == 0) throw new TemplateException("float division by zero");
            return op switch
            {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                "//" => Math.Floor(x / y),
                "%" => x - y * Math.Floor(x / y),
                _ => throw new TemplateException($"unknown operator {op}"),
            };
        }
        long p = JinjaValues.ToLong(a), q = JinjaValues.ToLong(b);
        if (op is "//" or "%" && q == 0) throw new TemplateException("integer division or modulo by zero");
        return op switch
        {
            "+" => checked(p + q),
            "-" => checked(p - q),
            "*" => checked(p * q),
            "//" => FloorDiv(p, q),
            "%" => p - q * FloorDiv(p, q),
            _ => throw new TemplateException($"unknown operator {op}"),
        };
    }

    // Exact integer power by squaring (Math.Pow loses digits past 2^53); overflow raises as the checked multiply does.
    private static long IntPow(long x, long n)
    {
        long result = 1;
        while (n > 0)
        {
            if ((n & 1) != 0) result = checked(result * x);
            n >>= 1;
            if (n > 0) x = checked(x * x);
        }
        return result;
    }

    private static long FloorDiv(long p, long q)
    {
        long d = p / q;
        return (p % q != 0 && (p < 0) != (q < 0)) ? d - 1 : d;
    }

    public static bool Compare(string op, object? a, object? b)
    {
        switch (op)
        {
            case "==": return JinjaValues.PyEquals(a, b);
            case "!=": return !JinjaValues.PyEquals(a, b);
            case "in": return Contains(b, a);
            case "notin": return !Contains(b, a);
        }
        if (a is JinjaUndefined ua) throw new TemplateException(ua.Message);
        if (b is JinjaUndefined ub) throw new TemplateException(ub.Message);
        int c = JinjaValues.PyCompare(a, b, op);
        return op switch { "<" => c < 0, "<=" => c <= 0, ">" => c > 0, ">=" => c >= 0, _ => throw new TemplateException($"unknown operator {op}") };
    }

    /// <summary>Python's <c>item in container</c>.</summary>
    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal)
            : throw new TemplateException($"'in <string>' requires string as left operand, not {JinjaValues.TypeName(item)}"),
        List<object?> or object?[] => ((IReadOnlyList<object?>)container).Any(x => JinjaValues.PyEquals(x, item)),
        OrderedDictionary<string, object?> d => item is string k && d.ContainsKey(k),
        JinjaUndefined => false,
        JinjaIterable i => JinjaValues.Iterate(i).Any(x => JinjaValues.PyEquals(x, item)),
        _ => throw new TemplateException($"argument of type '{JinjaValues.TypeName(container)}' is not iterable"),
    };
}
