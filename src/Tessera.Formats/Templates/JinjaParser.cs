namespace Tessera.Formats.Templates;

/// <summary>Parses the tokens of <see cref="JinjaLexer"/> into statements: text, <c>{{ }}</c>, if/elif/else, for (with
/// else, a loop filter and <c>recursive</c>), set (also block set and <c>ns.attr</c>), macro, call, filter blocks,
/// break/continue and Hugging Face's generation block. Any other tag is an error that names it and its line.</summary>
internal sealed partial class JinjaParser
{
    // Real templates nest a few levels; a hostile one must not overflow the stack.
    private const int MaxNesting = 100;

    private readonly List<Token> _tokens;
    private int _i;
    private int _nesting;

    private JinjaParser(List<Token> tokens) => _tokens = tokens;

    public static IReadOnlyList<Stmt> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.ParseBody([]);
        if (parser.Current.Kind != TokenKind.Eof)
            throw new TemplateException($"unexpected '{{% {parser.Peek(1).Value} %}}' with no block open", parser.Current.Line);
        return body;
    }

    private Token Current => _i < _tokens.Count ? _tokens[_i] : new Token(TokenKind.Eof, "", _tokens.Count > 0 ? _tokens[^1].Line : 1);

    private Token Peek(int ahead) => _i + ahead < _tokens.Count ? _tokens[_i + ahead] : new Token(TokenKind.Eof, "", Current.Line);

    private Token Next() => _tokens.Count > _i ? _tokens[_i++] : Current;

    private Token Expect(TokenKind kind, string? value = null)
    {
        var t = Current;
        if (t.Kind != kind || (value is not null && t.Value != value))
            throw new TemplateException($"expected {Describe(kind, value)}, got {Describe(t.Kind, t.Value)}", t.Line);
        return Next();
    }

    private static string Describe(TokenKind kind, string? value) => kind switch
    {
        TokenKind.BlockEnd => "the end of the tag ('%}')",
        TokenKind.VarEnd => "the end of the expression ('}}')",
        TokenKind.Eof => "the end of the template",
        TokenKind.Data => "text",
        _ => value is { Length: > 0 } ? $"'{value}'" : kind.ToString().ToLowerInvariant(),
    };

    private bool SkipOp(string op)
    {
        if (!Current.IsOp(op)) return false;
        _i++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        _i++;
        return true;
    }

    // Statements until a block tag whose name is in endTags (left unconsumed) or the end of the template.
    private List<Stmt> ParseBody(string[] endTags)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var t = Current;
            switch (t.Kind)
            {
                case TokenKind.Eof:
                    if (endTags.Length > 0)
                        throw new TemplateException($"the template ends inside a block that needs {{% {endTags.FirstOrDefault(e => e.StartsWith("end", StringComparison.Ordinal)) ?? endTags[0]} %}}", t.Line);
                    return body;
                case TokenKind.Data:
                    body.Add(new TextStmt(t.Value, t.Line));
                    _i++;
                    break;
                case TokenKind.VarBegin:
                    _i++;
                    var value = ParseTuple(condExpr: true);
                    Expect(TokenKind.VarEnd);
                    body.Add(new OutputStmt(value, t.Line));
                    break;
                case TokenKind.BlockBegin:
                    var tag = Peek(1);
                    if (tag.Kind == TokenKind.Name && endTags.Contains(tag.Value)) return body;
                    _i++;
                    body.Add(ParseStatement());
                    break;
                default:
                    throw new TemplateException($"unexpected {Describe(t.Kind, t.Value)}", t.Line);
            }
        }
    }

    private Stmt ParseStatement()
    {
        using var _ = Nest();
        var tag = Expect(TokenKind.Name);
        switch (tag.Value)
        {
            case "if": return ParseIf(tag.Line);
            case "for": return ParseFor(tag.Line);
            case "set": return ParseSet(tag.Line);
            case "macro": return ParseMacro(tag.Line);
            case "call": return ParseCallBlock(tag.Line);
            case "filter": return ParseFilterBlock(tag.Line);
            case "break":
                Expect(TokenKind.BlockEnd);
                return new BreakStmt(tag.Line);
            case "continue":
                Expect(TokenKind.BlockEnd);
                return new ContinueStmt(tag.Line);
            case "generation":
                Expect(TokenKind.BlockEnd);
                var body = ParseBody(["endgeneration"]);
                EndTag("endgeneration");
                return new GenerationStmt(body, tag.Line);
            case "elif" or "else" or "endif" or "endfor" or "endmacro" or "endset" or "endcall" or "endfilter" or "endgeneration":
                throw new TemplateException($"'{{% {tag.Value} %}}' with no matching block open", tag.Line);
            default:
                throw new TemplateException($"unsupported construct '{{% {tag.Value} %}}' (this engine renders chat templates: "
                    + "if, for, set, macro, call, filter, break, continue, generation)", tag.Line);
        }
    }

    private NestingScope Nest()
    {
        if (++_nesting > MaxNesting) throw new TemplateException($"the template nests blocks or expressions deeper than {MaxNesting} levels", Current.Line);
        return new NestingScope(this);
    }

    private readonly struct NestingScope(JinjaParser parser) : IDisposable
    {
        public void Dispose() => parser._nesting--;
    }

    private void EndTag(string name)
    {
        Expect(TokenKind.BlockBegin);
        Expect(TokenKind.Name, name);
        Expect(TokenKind.BlockEnd);
    }

    private IfStmt ParseIf(int line)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        List<Stmt>? elseBody = null;
        var test = ParseTuple(condExpr: false);
        Expect(TokenKind.BlockEnd);
        while (true)
        {
            var body = ParseBody(["elif", "else", "endif"]);
            branches.Add((test, body));
            Expect(TokenKind.BlockBegin);
            var tag = Next();
            if (tag.Value == "elif")
            {
                test = ParseTuple(condExpr: false);
                Expect(TokenKind.BlockEnd);
                continue;
            }
            Expect(TokenKind.BlockEnd);
            if (tag.Value == "else")
            {
                elseBody = ParseBody(["endif"]);
                EndTag("endif");
            }
            return new IfStmt(branches, elseBody, line);
        }
    }

    private ForStmt ParseFor(int line)
    {
        var target = ParseAssignTarget(allowNamespace: false);
        Expect(TokenKind.Name, "in");
        var iterable = ParseTuple(condExpr: false);
        Expr? filter = SkipName("if") ? ParseTuple(condExpr: true) : null;
        bool recursive = SkipName("recursive");
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endfor", "else"]);
        List<Stmt>? elseBody = null;
        Expect(TokenKind.BlockBegin);
        if (Next().Value == "else")
        {
            Expect(TokenKind.BlockEnd);
            elseBody = ParseBody(["endfor"]);
            EndTag("endfor");
        }
        else Expect(TokenKind.BlockEnd);
        return new ForStmt(target, iterable, filter, body, elseBody, recursive, line);
    }

    private Stmt ParseSet(int line)
    {
        var target = ParseAssignTarget(allowNamespace: true);
        if (SkipOp("="))
        {
            var value = ParseTuple(condExpr: true);
            Expect(TokenKind.BlockEnd);
            return new SetStmt(target, value, line);
        }
        FilterExpr? filter = Current.IsOp("|") ? ParseFilterChain(null) : null;
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endset"]);
        EndTag("endset");
        return new SetBlockStmt(target, filter, body, line);
    }

    private MacroStmt ParseMacro(int line)
    {
        string name = Expect(TokenKind.Name).Value;
        var parameters = ParseParams();
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endmacro"]);
        EndTag("endmacro");
        return new MacroStmt(name, parameters, body, line);
    }

    private List<MacroParam> ParseParams()
    {
        var parameters = new List<MacroParam>();
        Expect(TokenKind.Operator, "(");
        while (!SkipOp(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            if (SkipOp(")")) break;
            string p = Expect(TokenKind.Name).Value;
            Expr? fallback = SkipOp("=") ? ParseExpression(condExpr: true) : null;
            parameters.Add(new MacroParam(p, fallback));
        }
        return parameters;
    }

    private CallBlockStmt ParseCallBlock(int line)
    {
        var callerParams = Current.IsOp("(") ? ParseParams() : [];
        var call = ParseExpression(condExpr: true) as CallExpr
            ?? throw new TemplateException("{% call %} needs a macro call, as in {% call m(x) %}", line);
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endcall"]);
        EndTag("endcall");
        return new CallBlockStmt(call, callerParams, body, line);
    }

    private FilterBlockStmt ParseFilterBlock(int line)
    {
        var filter = ParseFilterChain(null, leadingPipe: false);
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endfilter"]);
        EndTag("endfilter");
        return new FilterBlockStmt(filter, body, line);
    }

    // A name, a tuple of names (for a, b in ...), or ns.attr where allowed.
    private Expr ParseAssignTarget(bool allowNamespace)
    {
        var line = Current.Line;
        var items = new List<Expr>();
        bool parenthesised = SkipOp("(");
        do
        {
            if (parenthesised && Current.IsOp(")")) break;
            var name = Expect(TokenKind.Name);
            if (allowNamespace && SkipOp("."))
                items.Add(new AttrExpr(new NameExpr(name.Value, name.Line), Expect(TokenKind.Name).Value, name.Line));
            else items.Add(new NameExpr(name.Value, name.Line));
        }
        while (SkipOp(","));
        if (parenthesised) Expect(TokenKind.Operator, ")");
        return items.Count == 1 && !parenthesised ? items[0] : new TupleExpr(items, line);
    }
}
