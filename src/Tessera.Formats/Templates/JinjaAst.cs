namespace Tessera.Formats.Templates;

// The syntax tree of a template: expressions and statements, each with its template line for error messages.

internal abstract record Expr(int Line);
internal sealed record ConstExpr(object? Value, int Line) : Expr(Line);
internal sealed record NameExpr(string Name, int Line) : Expr(Line);
internal sealed record ListExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);
internal sealed record TupleExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);
internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Items, int Line) : Expr(Line);
internal sealed record AttrExpr(Expr Target, string Name, int Line) : Expr(Line);
internal sealed record ItemExpr(Expr Target, Expr Key, int Line) : Expr(Line);
internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);
internal sealed record CallArgs(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Named);
internal sealed record CallExpr(Expr Target, CallArgs Args, int Line) : Expr(Line);
/// <summary><c>value | name(args)</c>; <see cref="Value"/> is null inside a <c>{% filter %}</c> block's chain.</summary>
internal sealed record FilterExpr(Expr? Value, string Name, CallArgs Args, int Line) : Expr(Line);
internal sealed record TestExpr(Expr Value, string Name, CallArgs Args, bool Negated, int Line) : Expr(Line);
internal sealed record UnaryExpr(string Op, Expr Operand, int Line) : Expr(Line);
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line) : Expr(Line);
internal sealed record CompareExpr(Expr First, IReadOnlyList<(string Op, Expr Operand)> Rest, int Line) : Expr(Line);
internal sealed record ConcatExpr(IReadOnlyList<Expr> Parts, int Line) : Expr(Line);
internal sealed record CondExpr(Expr Test, Expr Then, Expr? Else, int Line) : Expr(Line);

internal abstract record Stmt(int Line);
internal sealed record TextStmt(string Text, int Line) : Stmt(Line);
internal sealed record OutputStmt(Expr Value, int Line) : Stmt(Line);
internal sealed record IfStmt(IReadOnlyList<(Expr Test, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt>? Else, int Line) : Stmt(Line);
internal sealed record ForStmt(Expr Target, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt>? Else,
    bool Recursive, int Line) : Stmt(Line);
/// <summary><c>{% set target = value %}</c>; the target is a name, a tuple of names or <c>ns.attr</c>.</summary>
internal sealed record SetStmt(Expr Target, Expr Value, int Line) : Stmt(Line);
/// <summary><c>{% set name | filters %}body{% endset %}</c>.</summary>
internal sealed record SetBlockStmt(Expr Target, FilterExpr? Filter, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
internal sealed record MacroParam(string Name, Expr? Default);
internal sealed record MacroStmt(string Name, IReadOnlyList<MacroParam> Params, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
internal sealed record CallBlockStmt(CallExpr Call, IReadOnlyList<MacroParam> CallerParams, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
internal sealed record FilterBlockStmt(FilterExpr Filter, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
internal sealed record BreakStmt(int Line) : Stmt(Line);
internal sealed record ContinueStmt(int Line) : Stmt(Line);
/// <summary>Hugging Face's <c>{% generation %}</c> marker (its assistant-mask extension): renders its body.</summary>
internal sealed record GenerationStmt(IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
