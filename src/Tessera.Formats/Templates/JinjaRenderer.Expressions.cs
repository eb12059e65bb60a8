namespace Tessera.Formats.Templates;

// Expression evaluation with Python's semantics (JinjaValues) and Jinja2's attribute/item lookup: a.b tries the
// attribute (a method of a str, dict or list) and then the item; a[b] tries the item and then the attribute; a miss
// is Undefined, and reading through Undefined raises.
internal sealed partial class JinjaRenderer
{
    public object? Eval(Expr expr, JinjaScope scope)
    {
        try { return EvalCore(expr, scope); }
        catch (TemplateException e) when (e.Line == 0) { throw Relocate(e, expr.Line); }
    }

    private object? EvalCore(Expr expr, JinjaScope scope)
    {
        switch (expr)
        {
            case ConstExpr c: return c.Value;
            case NameExpr n: return Lookup(n.Name, scope);
            case ListExpr l: return l.Items.Select(i => Eval(i, scope)).ToList();
            case TupleExpr t: return t.Items.Select(i => Eval(i, scope)).ToArray();
            case DictExpr d:
                var dict = new OrderedDictionary<string, object?>();
                foreach (var (k, v) in d.Items)
                {
                    var key = Eval(k, scope);
                    dict[key as string ?? throw new TemplateException($"unsupported construct: a dict key of type {JinjaValues.TypeName(key)} (only strings)")] = Eval(v, scope);
                }
                return dict;
            case AttrExpr a: return GetAttr(Eval(a.Target, scope), a.Name);
            case ItemExpr i: return GetItem(Eval(i.Target, scope), Eval(i.Key, scope));
            case SliceExpr s:
                return JinjaSlicing.Slice(Eval(s.Target, scope), OptionalInt(s.Start, scope), OptionalInt(s.Stop, scope), OptionalInt(s.Step, scope));
            case CallExpr c:
                var fn = Eval(c.Target, scope);
                return Invoke(fn, EvalArgs(c.Args, scope));
            case FilterExpr f: return ApplyFilterChain(f, null, scope);
            case TestExpr t:
                bool result = JinjaTests.Apply(this, t.Name, Eval(t.Value, scope), EvalArgs(t.Args, scope));
                return t.Negated ? !result : result;
            case UnaryExpr u: return Unary(u.Op, Eval(u.Operand, scope));
            case BinaryExpr { Op: "and" } b:
                var left = Eval(b.Left, scope);
                return JinjaValues.Truthy(left) ? Eval(b.Right, scope) : left;
            case BinaryExpr { Op: "or" } b:
                var first = Eval(b.Left, scope);
                return JinjaValues.Truthy(first) ? first : Eval(b.Right, scope);
            case BinaryExpr b: return JinjaArithmetic.Binary(b.Op, Eval(b.Left, scope), Eval(b.Right, scope));
            case CompareExpr c:
                var current = Eval(c.First, scope);
                foreach (var (op, operand) in c.Rest)
                {
                    var right = Eval(operand, scope);
                    if (!JinjaArithmetic.Compare(op, current, right)) return false;
                    current = right;
                }
                return true;
            case ConcatExpr c:
                return string.Concat(c.Parts.Select(p => JinjaValues.Str(Eval(p, scope))));
            case CondExpr c:
                if (JinjaValues.Truthy(Eval(c.Test, scope))) return Eval(c.Then, scope);
                return c.Else is null
                    ? new JinjaUndefined($"the inline if-expression on line {c.Line} evaluated to false and no else section was defined.")
                    : Eval(c.Else, scope);
            default:
                throw new TemplateException($"unsupported expression {expr.GetType().Name}");
        }
    }

    private long? OptionalInt(Expr? e, JinjaScope scope)
    {
        if (e is null) return null;
        var v = Eval(e, scope);
        return v is null ? null : v is long or int or bool ? JinjaValues.ToLong(v)
            : throw new TemplateException($"slice indices must be integers or None, not {JinjaValues.TypeName(v)}");
    }

    private object? Lookup(string name, JinjaScope scope)
    {
        if (scope.TryGet(name, out var v)) return v;
        if (_globals.TryGetValue(name, out v)) return v;
        return JinjaUndefined.Named(name);
    }

    public JinjaArgs EvalArgs(CallArgs args, JinjaScope scope)
    {
        if (args.Positional.Count == 0 && args.Named.Count == 0) return JinjaArgs.Empty;
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (n, e) in args.Named) named[n] = Eval(e, scope);
        return new JinjaArgs(args.Positional.Select(p => Eval(p, scope)).ToList(), named);
    }

    public static object? Invoke(object? fn, JinjaArgs args) => fn switch
    {
        JinjaFunction f => f.Invoke(args),
        JinjaLoop loop => loop.Recurse(args.Get(0, "iterable")),
        JinjaUndefined u => throw new TemplateException(u.Message),
        _ => throw new TemplateException($"'{JinjaValues.TypeName(fn)}' object is not callable"),
    };

    private static object? Unary(string op, object? v)
    {
        if (op == "not") return !JinjaValues.Truthy(v);
        if (v is JinjaUndefined u) throw new TemplateException(u.Message);
        if (!JinjaValues.IsNumber(v)) throw new TemplateException($"bad operand type for unary {op}: '{JinjaValues.TypeName(v)}'");
        if (op == "+") return v is double ? v : JinjaValues.ToLong(v);
        return v is double d ? -d : (object)-JinjaValues.ToLong(v);
    }

    /// <summary>Jinja's getattr: a method or attribute first, then the item.</summary>
    public static object? GetAttr(object? target, string name)
    {
        switch (target)
        {
            case JinjaUndefined u: throw new TemplateException(u.Message);
            case JinjaLoop loop: return loop.Get(name);
            case JinjaNamespace ns:
                return ns.Attributes.TryGetValue(name, out var a) ? a : JinjaUndefined.Attribute(target, name);
        }
        if (JinjaMethods.TryBind(target, name, out var method)) return method;
        if (target is OrderedDictionary<string, object?> dict && dict.TryGetValue(name, out var item)) return item;
        return JinjaUndefined.Attribute(target, name);
    }

    /// <summary>Jinja's getitem: the item first, then the attribute.</summary>
    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case JinjaUndefined u: throw new TemplateException(u.Message);
            case OrderedDictionary<string, object?> dict when key is string s && dict.TryGetValue(s, out var v): return v;
            case List<object?> list when JinjaValues.TryIndex(key, list.Count, out int i): return list[i];
            case object?[] tuple when JinjaValues.TryIndex(key, tuple.Length, out int j): return tuple[j];
            case string str when key is long or int or bool:
                var runes = str.EnumerateRunes().ToList();
                return JinjaValues.TryIndex(key, runes.Count, out int k) ? runes[k].ToString() : JinjaUndefined.Element(target, key);
        }
        if (key is string name) return GetAttr(target, name);
        return JinjaUndefined.Element(target, key);
    }

    public object? ApplyFilterChain(FilterExpr f, object? input, JinjaScope scope)
    {
        try
        {
            var value = f.Value switch
            {
                FilterExpr inner => ApplyFilterChain(inner, input, scope),
                null => input,
                var e => Eval(e, scope),
            };
            return JinjaFilters.Apply(this, f.Name, value, EvalArgs(f.Args, scope));
        }
        catch (TemplateException e) when (e.Line == 0) { throw Relocate(e, f.Line); }
    }
}

internal sealed partial class JinjaRenderer
{
    /// <summary>Jinja's attribute getter for filters (<c>map(attribute="a.b")</c>, <c>selectattr("type")</c>): dotted
    /// parts, digits as indices, each looked up as an item first.</summary>
    public static object? GetItemPath(object? item, object? attribute)
    {
        if (attribute is not string path) return GetItem(item, attribute);
        foreach (var part in path.Split('.'))
        {
            item = long.TryParse(part, out long index) ? GetItem(item, index) : GetItem(item, part);
            if (item is JinjaUndefined) return item;
        }
        return item;
    }
}
