using System.Text;

namespace Tessera.Formats.Templates;

/// <summary>Runs a parsed template: statements write into the current output; macros, set blocks, filter blocks and
/// caller() capture theirs. Errors carry the line of the statement or expression that failed.</summary>
internal sealed partial class JinjaRenderer
{
    private enum Flow { Normal, Break, Continue }

    private StringBuilder _out = new();
    private readonly IReadOnlyDictionary<string, object?> _globals;
    private int _depth;

    public JinjaRenderer(IReadOnlyDictionary<string, object?> globals) => _globals = globals;

    public string Render(IReadOnlyList<Stmt> body, JinjaScope scope)
    {
        _out = new StringBuilder();
        var flow = Exec(body, scope);
        if (flow != Flow.Normal) throw new TemplateException("break or continue outside a for loop");
        return _out.ToString();
    }

    private Flow Exec(IReadOnlyList<Stmt> body, JinjaScope scope)
    {
        foreach (var stmt in body)
        {
            Flow flow;
            try { flow = ExecOne(stmt, scope); }
            catch (TemplateException e) when (e.Line == 0) { throw Relocate(e, stmt.Line); }
            catch (OverflowException) { throw new TemplateException("integer overflow (Python would use a big integer; this engine has 64 bits)", stmt.Line); }
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private static TemplateException Relocate(TemplateException e, int line) =>
        e is TemplateRaisedException ? new TemplateRaisedException(e.Reason, line) : new TemplateException(e.Reason, line);

    private Flow ExecOne(Stmt stmt, JinjaScope scope)
    {
        switch (stmt)
        {
            case TextStmt t:
                _out.Append(t.Text);
                return Flow.Normal;
            case OutputStmt o:
                _out.Append(JinjaValues.Str(Eval(o.Value, scope)));
                return Flow.Normal;
            case IfStmt i:
                foreach (var (test, body) in i.Branches)
                    if (JinjaValues.Truthy(Eval(test, scope))) return Exec(body, scope);
                return i.Else is null ? Flow.Normal : Exec(i.Else, scope);
            case ForStmt f:
                return ExecFor(f, Eval(f.Iterable, scope), scope, 0);
            case SetStmt s:
                Assign(s.Target, Eval(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockStmt sb:
                object? captured = Capture(sb.Body, scope);
                if (sb.Filter is not null) captured = ApplyFilterChain(sb.Filter, captured, scope);
                Assign(sb.Target, captured, scope);
                return Flow.Normal;
            case MacroStmt m:
                scope.Set(m.Name, MakeMacro(m.Name, m.Params, m.Body, scope));
                return Flow.Normal;
            case CallBlockStmt c:
                var caller = MakeMacro("caller", c.CallerParams, c.Body, scope);
                var target = Eval(c.Call.Target, scope);
                var args = EvalArgs(c.Call.Args, scope);
                var named = new Dictionary<string, object?>(args.Named) { ["caller"] = caller };
                _out.Append(JinjaValues.Str(Invoke(target, new JinjaArgs(args.Positional, named))));
                return Flow.Normal;
            case FilterBlockStmt fb:
                _out.Append(JinjaValues.Str(ApplyFilterChain(fb.Filter, Capture(fb.Body, scope), scope)));
                return Flow.Normal;
            case GenerationStmt g:
                return Exec(g.Body, scope);
            case BreakStmt:
                return Flow.Break;
            case ContinueStmt:
                return Flow.Continue;
            default:
                throw new TemplateException($"unsupported statement {stmt.GetType().Name}", stmt.Line);
        }
    }

    private Flow ExecFor(ForStmt f, object? iterable, JinjaScope outer, int depth0)
    {
        var all = JinjaValues.Iterate(iterable);
        IReadOnlyList<object?> items = all;
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in all)
            {
                var probe = new JinjaScope(outer);
                Assign(f.Target, item, probe);
                if (JinjaValues.Truthy(Eval(f.Filter, probe))) kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0) return f.Else is null ? Flow.Normal : Exec(f.Else, new JinjaScope(outer));

        Func<object?, string>? recurse = f.Recursive ? children => CaptureFor(f, children, outer, depth0 + 1) : null;
        var loop = new JinjaLoop(items, depth0, recurse);
        for (int i = 0; i < items.Count; i++)
        {
            var scope = new JinjaScope(outer);
            Assign(f.Target, items[i], scope);
            loop.Index0 = i;
            scope.Set("loop", loop);
            if (Exec(f.Body, scope) == Flow.Break) break;
        }
        return Flow.Normal;
    }

    private string CaptureFor(ForStmt f, object? children, JinjaScope outer, int depth0)
    {
        var saved = _out;
        _out = new StringBuilder();
        try
        {
            ExecFor(f, children, outer, depth0);
            return _out.ToString();
        }
        finally { _out = saved; }
    }

    private string Capture(IReadOnlyList<Stmt> body, JinjaScope scope)
    {
        var saved = _out;
        _out = new StringBuilder();
        try
        {
            if (Exec(body, scope) != Flow.Normal) throw new TemplateException("break or continue outside a for loop");
            return _out.ToString();
        }
        finally { _out = saved; }
    }

    // {% set x = v %}, {% set a, b = pair %}, {% set ns.attr = v %} (only a namespace() takes attributes).
    private void Assign(Expr target, object? value, JinjaScope scope)
    {
        switch (target)
        {
            case NameExpr n:
                scope.Set(n.Name, value);
                break;
            case TupleExpr t:
                var items = value is string or List<object?> or object?[] or OrderedDictionary<string, object?> or JinjaIterable
                    ? JinjaValues.Iterate(value)
                    : throw new TemplateException($"cannot unpack non-iterable {JinjaValues.TypeName(value)} object", target.Line);
                if (items.Count != t.Items.Count)
                    throw new TemplateException($"cannot unpack {items.Count} values into {t.Items.Count} names", target.Line);
                for (int i = 0; i < items.Count; i++) Assign(t.Items[i], items[i], scope);
                break;
            case AttrExpr { Target: NameExpr owner } a:
                if (!scope.TryGet(owner.Name, out var ns) || ns is not JinjaNamespace space)
                    throw new TemplateException($"cannot assign attribute '{a.Name}' on '{owner.Name}': it is not a namespace()", target.Line);
                space.Attributes[a.Name] = value;
                break;
            default:
                throw new TemplateException("cannot assign to this expression", target.Line);
        }
    }

    // A macro (or caller) as a function: parameters bind positionally then by name; a missing one takes its default
    // (evaluated in the call's scope) or is undefined; the body's output is the value.
    private JinjaFunction MakeMacro(string name, IReadOnlyList<MacroParam> parameters, IReadOnlyList<Stmt> body, JinjaScope definedIn) =>
        new(name, args =>
        {
            if (++_depth > 200) throw new TemplateException($"macro '{name}' recurses deeper than 200 calls");
            try
            {
                var scope = new JinjaScope(definedIn);
                if (args.Positional.Count > parameters.Count)
                    throw new TemplateException($"macro '{name}' takes not more than {parameters.Count} argument(s), got {args.Positional.Count}");
                foreach (var key in args.Named.Keys)
                    if (key != "caller" && !parameters.Any(p => p.Name == key))
                        throw new TemplateException($"macro '{name}' takes no keyword argument '{key}'");
                for (int i = 0; i < parameters.Count; i++)
                {
                    var p = parameters[i];
                    if (i < args.Positional.Count)
                    {
                        if (args.Named.ContainsKey(p.Name)) throw new TemplateException($"macro '{name}' got multiple values for argument '{p.Name}'");
                        scope.Set(p.Name, args.Positional[i]);
                    }
                    else if (args.Named.TryGetValue(p.Name, out var v)) scope.Set(p.Name, v);
                    else scope.Set(p.Name, p.Default is null ? new JinjaUndefined($"parameter '{p.Name}' was not provided") : Eval(p.Default, scope));
                }
                if (args.Named.TryGetValue("caller", out var caller)) scope.Set("caller", caller);
                scope.Set("varargs", new List<object?>());
                scope.Set("kwargs", new OrderedDictionary<string, object?>());
                return Capture(body, scope);
            }
            finally { _depth--; }
        });
}
