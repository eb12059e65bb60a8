namespace Tessera.Formats.Templates;

// Expressions, with Jinja2's precedence: conditional < or < and < not < comparisons (== != < > <= >= in, not in)
// < + - < ~ < * / // % < ** < unary - + < postfix (.attr [key] [a:b] call) with filters (|f) and tests (is t).
internal sealed partial class JinjaParser
{
    private Expr ParseTuple(bool condExpr)
    {
        int line = Current.Line;
        var first = ParseExpression(condExpr);
        if (!Current.IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (SkipOp(","))
        {
            if (IsTupleEnd()) break;
            items.Add(ParseExpression(condExpr));
        }
        return new TupleExpr(items, line);
    }

    private bool IsTupleEnd() => Current.Kind is TokenKind.BlockEnd or TokenKind.VarEnd
        || Current.IsOp(")") || Current.IsOp("]") || Current.IsOp("}") || Current.IsName("in") || Current.IsName("if");

    private Expr ParseExpression(bool condExpr)
    {
        using var _ = Nest();
        return condExpr ? ParseCondition() : ParseOr();
    }

    private Expr ParseCondition()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            int line = Next().Line;
            var test = ParseOr();
            Expr? otherwise = SkipName("else") ? ParseCondition() : null;
            expr = new CondExpr(test, expr, otherwise, line);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            int line = Next().Line;
            left = new BinaryExpr("or", left, ParseAnd(), line);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            int line = Next().Line;
            left = new BinaryExpr("and", left, ParseNot(), line);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            using var _ = Nest();
            int line = Next().Line;
            return new UnaryExpr("not", ParseNot(), line);
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        int line = Current.Line;
        var first = ParseAdditive();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            var t = Current;
            if (t.Kind == TokenKind.Operator && t.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                _i++;
                rest.Add((t.Value, ParseAdditive()));
            }
            else if (t.IsName("in"))
            {
                _i++;
                rest.Add(("in", ParseAdditive()));
            }
            else if (t.IsName("not") && Peek(1).IsName("in"))
            {
                _i += 2;
                rest.Add(("notin", ParseAdditive()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    private Expr ParseAdditive()
    {
        var left = ParseConcat();
        while (Current.IsOp("+") || Current.IsOp("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, ParseConcat(), op.Line);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        int line = Current.Line;
        var parts = new List<Expr> { ParseMultiplicative() };
        while (SkipOp("~")) parts.Add(ParseMultiplicative());
        return parts.Count == 1 ? parts[0] : new ConcatExpr(parts, line);
    }

    private Expr ParseMultiplicative()
    {
        var left = ParsePower();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, ParsePower(), op.Line);
        }
        return left;
    }

    private Expr ParsePower()
    {
        var left = ParseUnary(withFilter: true);
        while (Current.IsOp("**"))
        {
            var op = Next();
            left = new BinaryExpr("**", left, ParseUnary(withFilter: true), op.Line);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        Expr node;
        if (Current.IsOp("-") || Current.IsOp("+"))
        {
            using var _ = Nest();
            var op = Next();
            node = new UnaryExpr(op.Value, ParseUnary(withFilter: false), op.Line);
        }
        else node = ParsePostfix(ParsePrimary());
        return withFilter ? ParseFilterTail(node) : node;
    }

    // Filters, tests and calls after a value: x|f(a)|g, x is defined, x is not none.
    private Expr ParseFilterTail(Expr node)
    {
        while (true)
        {
            if (Current.IsOp("|")) node = ParseFilterChain(node);
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOp("(")) node = new CallExpr(node, ParseCallArgs(), node.Line);
            else return node;
        }
    }

    private FilterExpr ParseFilterChain(Expr? value, bool leadingPipe = true)
    {
        FilterExpr? node = null;
        bool first = true;
        while (first && !leadingPipe || SkipOp("|"))
        {
            first = false;
            var name = Expect(TokenKind.Name);
            string full = name.Value;
            while (Current.IsOp(".") && Peek(1).Kind == TokenKind.Name)
            {
                _i++;
                full += "." + Next().Value;
            }
            var args = Current.IsOp("(") ? ParseCallArgs() : new CallArgs([], []);
            node = new FilterExpr((Expr?)node ?? value, full, args, name.Line);
        }
        return node!;
    }

    private TestExpr ParseTest(Expr value)
    {
        int line = Next().Line;
        bool negated = SkipName("not");
        string name = Expect(TokenKind.Name).Value;
        CallArgs args;
        var t = Current;
        if (t.IsOp("(")) args = ParseCallArgs();
        else if ((t.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                  || t.IsOp("(") || t.IsOp("[") || t.IsOp("{"))
                 && !t.IsName("else") && !t.IsName("or") && !t.IsName("and"))
            args = new CallArgs([ParsePostfix(ParsePrimary())], []);
        else args = new CallArgs([], []);
        return new TestExpr(value, name, args, negated, line);
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var t = Current;
            if (t.IsOp("."))
            {
                _i++;
                var attr = Next();
                if (attr.Kind == TokenKind.Name) node = new AttrExpr(node, attr.Value, t.Line);
                else if (attr.Kind == TokenKind.Integer) node = new ItemExpr(node, new ConstExpr(attr.Number, t.Line), t.Line);
                else throw new TemplateException($"expected a name after '.', got '{attr.Value}'", t.Line);
            }
            else if (t.IsOp("["))
            {
                _i++;
                node = ParseSubscript(node, t.Line);
            }
            else if (t.IsOp("(")) node = new CallExpr(node, ParseCallArgs(), t.Line);
            else return node;
        }
    }

    private Expr ParseSubscript(Expr target, int line)
    {
        Expr? start = null, stop = null, step = null;
        if (!Current.IsOp(":")) start = ParseExpression(condExpr: true);
        if (!SkipOp(":"))
        {
            Expect(TokenKind.Operator, "]");
            return new ItemExpr(target, start!, line);
        }
        if (!Current.IsOp(":") && !Current.IsOp("]")) stop = ParseExpression(condExpr: true);
        if (SkipOp(":") && !Current.IsOp("]")) step = ParseExpression(condExpr: true);
        Expect(TokenKind.Operator, "]");
        return new SliceExpr(target, start, stop, step, line);
    }

    private CallArgs ParseCallArgs()
    {
        Expect(TokenKind.Operator, "(");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!SkipOp(")"))
        {
            if (positional.Count + named.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
                if (SkipOp(")")) break;
            }
            if (Current.IsOp("*") || Current.IsOp("**"))
                throw new TemplateException("unsupported construct: *args or **kwargs in a call", Current.Line);
            if (Current.Kind == TokenKind.Name && Peek(1).IsOp("="))
            {
                string name = Next().Value;
                _i++;
                named.Add((name, ParseExpression(condExpr: true)));
            }
            else
            {
                if (named.Count > 0) throw new TemplateException("a positional argument follows a keyword argument", Current.Line);
                positional.Add(ParseExpression(condExpr: true));
            }
        }
        return new CallArgs(positional, named);
    }

    private Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(true, t.Line),
                    "false" or "False" => new ConstExpr(false, t.Line),
                    "none" or "None" => new ConstExpr(null, t.Line),
                    _ => new NameExpr(t.Value, t.Line),
                };
            case TokenKind.String:
                string s = t.Value;
                while (Current.Kind == TokenKind.String) s += Next().Value;
                return new ConstExpr(s, t.Line);
            case TokenKind.Integer or TokenKind.Float:
                return new ConstExpr(t.Number, t.Line);
            case TokenKind.Operator when t.Value == "(":
                if (SkipOp(")")) return new TupleExpr([], t.Line);
                var inner = ParseTuple(condExpr: true);
                Expect(TokenKind.Operator, ")");
                return inner;
            case TokenKind.Operator when t.Value == "[":
                var items = new List<Expr>();
                while (!SkipOp("]"))
                {
                    if (items.Count > 0)
                    {
                        Expect(TokenKind.Operator, ",");
                        if (SkipOp("]")) break;
                    }
                    items.Add(ParseExpression(condExpr: true));
                }
                return new ListExpr(items, t.Line);
            case TokenKind.Operator when t.Value == "{":
                var pairs = new List<(Expr, Expr)>();
                while (!SkipOp("}"))
                {
                    if (pairs.Count > 0)
                    {
                        Expect(TokenKind.Operator, ",");
                        if (SkipOp("}")) break;
                    }
                    var key = ParseExpression(condExpr: true);
                    Expect(TokenKind.Operator, ":");
                    pairs.Add((key, ParseExpression(condExpr: true)));
                }
                return new DictExpr(pairs, t.Line);
            default:
                throw new TemplateException($"unexpected {Describe(t.Kind, t.Value)} in an expression", t.Line);
        }
    }
}
