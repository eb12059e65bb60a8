namespace Tessera.Formats.Templates;

/// <summary>Jinja2's tests (<c>x is defined</c>, <c>x is not none</c>, <c>selectattr("type", "equalto", "text")</c>),
/// with Python's types: bool is a number, a string is iterable and a sequence. An unknown test is an error naming it.</summary>
internal static class JinjaTests
{
    public static bool Apply(JinjaRenderer r, string name, object? v, JinjaArgs a)
    {
        object? Arg() => a.Positional.Count > 0 ? a.Positional[0]
            : throw new TemplateException($"the test '{name}' needs an argument");
        switch (name)
        {
            case "defined": return v is not JinjaUndefined;
            case "undefined": return v is JinjaUndefined;
            case "none": return v is null;
            case "true": return v is true;
            case "false": return v is false;
            case "boolean": return v is bool;
            case "string": return v is string;
            case "mapping": return v is OrderedDictionary<string, object?>;
            case "number": return v is bool or long or int or double;
            case "integer": return v is long or int;
            case "float": return v is double;
            case "iterable": return JinjaValues.IsIterable(v);
            case "sequence": return v is string or List<object?> or object?[] or OrderedDictionary<string, object?> or JinjaUndefined;
            case "callable": return v is JinjaFunction or JinjaLoop or JinjaUndefined;
            case "odd": return JinjaValues.ToLong(v) % 2 != 0;
            case "even": return JinjaValues.ToLong(v) % 2 == 0;
            case "divisibleby": return JinjaValues.ToLong(v) % JinjaValues.ToLong(Arg()) == 0;
            case "eq" or "equalto" or "==": return JinjaValues.PyEquals(v, Arg());
            case "ne" or "!=": return !JinjaValues.PyEquals(v, Arg());
            case "lt" or "lessthan" or "<": return JinjaArithmetic.Compare("<", v, Arg());
            case "le" or "<=": return JinjaArithmetic.Compare("<=", v, Arg());
            case "gt" or "greaterthan" or ">": return JinjaArithmetic.Compare(">", v, Arg());
            case "ge" or ">=": return JinjaArithmetic.Compare(">=", v, Arg());
            case "in": return JinjaArithmetic.Contains(Arg(), v);
            case "sameas": return ReferenceEquals(v, Arg()) || (v is null && Arg() is null) || (v is bool b && Arg() is bool c && b == c);
            case "lower": return v is string s && s.Any(char.IsLower) && !s.Any(char.IsUpper);
            case "upper": return v is string u && u.Any(char.IsUpper) && !u.Any(char.IsLower);
            case "escaped": return false;
            default:
                throw new TemplateException($"unsupported construct: no test named '{name}'");
        }
    }
}
