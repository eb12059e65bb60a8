using System.Globalization;
using System.Text;

namespace Tessera.Models.Generation.Constraints;

/// <summary>Reads llama.cpp's GBNF (grammars/README.md there): <c>name ::= alternatives</c> one rule per line, <c>|</c>,
/// sequences, <c>( )</c> groups, <c>* + ?</c> and <c>{m}</c> <c>{m,}</c> <c>{m,n}</c>, <c>"literals"</c>,
/// <c>[a-z]</c> classes with ranges and <c>^</c> negation, <c>.</c>, escapes (<c>\n \r \t \\ \" \[ \] \xHH \uHHHH
/// \UHHHHHHHH</c>) and <c>#</c> comments. Repetitions become rules as llama.cpp rewrites them. Errors name the line and
/// column, an undefined rule, a left-recursive rule, or a missing root.</summary>
internal sealed class GbnfParser
{
    private const int MaxRepetitions = 10_000;
    private readonly string _src;
    private int _pos;
    private readonly Dictionary<string, int> _ids = [];
    private readonly List<string> _names = [];
    private readonly List<List<GbnfElement>?> _rules = [];

    private GbnfParser(string src) => _src = src;

    /// <summary>Parses <paramref name="text"/>; the root rule is <paramref name="root"/>.</summary>
    public static GbnfGrammar Parse(string text, string root = "root")
    {
        ArgumentNullException.ThrowIfNull(text);
        var p = new GbnfParser(text);
        p.SkipSpace(newlines: true);
        while (p._pos < text.Length)
        {
            p.ParseRule();
            p.SkipSpace(newlines: true);
        }
        return p.Build(root);
    }

    private void ParseRule()
    {
        string name = ParseName();
        SkipSpace(false);
        if (!Eat("::=")) throw Error("expected '::='");
        SkipSpace(true);
        int id = SymbolId(name);
        if (_rules[id] is not null) throw Error($"rule '{name}' is defined twice");
        var elems = new List<GbnfElement>();
        ParseAlternatives(name, elems, nested: false);
        elems.Add(new(GbnfElementType.End, 0));
        _rules[id] = elems;
        SkipSpace(false);
        if (_pos < _src.Length && _src[_pos] == '\r') _pos++;
        if (_pos < _src.Length && _src[_pos] != '\n') throw Error("expected the end of the rule (a newline)");
    }

    private void ParseAlternatives(string rule, List<GbnfElement> output, bool nested)
    {
        ParseSequence(rule, output, nested);
        while (_pos < _src.Length && _src[_pos] == '|')
        {
            _pos++;
            SkipSpace(true);
            output.Add(new(GbnfElementType.Alt, 0));
            ParseSequence(rule, output, nested);
        }
    }

    private void ParseSequence(string rule, List<GbnfElement> output, bool nested)
    {
        int lastSymbol = output.Count;
        while (_pos < _src.Length)
        {
            char c = _src[_pos];
            if (c == '"')
            {
                _pos++;
                lastSymbol = output.Count;
                while (true)
                {
                    if (_pos >= _src.Length) throw Error("unterminated string literal");
                    if (_src[_pos] == '"') break;
                    lastSymbol = output.Count;
                    output.Add(new(GbnfElementType.Char, ParseChar()));
                }
                _pos++;
            }
            else if (c == '[')
            {
                _pos++;
                lastSymbol = output.Count;
                var start = GbnfElementType.Char;
                if (_pos < _src.Length && _src[_pos] == '^')
                {
                    _pos++;
                    start = GbnfElementType.CharNot;
                }
                bool first = true;
                while (true)
                {
                    if (_pos >= _src.Length) throw Error("unterminated character class");
                    if (_src[_pos] == ']') break;
                    output.Add(new(first ? start : GbnfElementType.CharAlt, ParseChar()));
                    first = false;
                    if (_pos + 1 < _src.Length && _src[_pos] == '-' && _src[_pos + 1] != ']')
                    {
                        _pos++;
                        output.Add(new(GbnfElementType.CharRangeUpper, ParseChar()));
                    }
                }
                if (first) throw Error("empty character class");
                _pos++;
            }
            else if (IsWordChar(c))
            {
                lastSymbol = output.Count;
                output.Add(new(GbnfElementType.RuleRef, (uint)SymbolId(ParseName())));
            }
            else if (c == '(')
            {
                _pos++;
                SkipSpace(true);
                int sub = NewSymbol(rule);
                var elems = new List<GbnfElement>();
                ParseAlternatives(rule, elems, nested: true);
                elems.Add(new(GbnfElementType.End, 0));
                _rules[sub] = elems;
                lastSymbol = output.Count;
                output.Add(new(GbnfElementType.RuleRef, (uint)sub));
                if (_pos >= _src.Length || _src[_pos] != ')') throw Error("expected ')'");
                _pos++;
            }
            else if (c == '.')
            {
                _pos++;
                lastSymbol = output.Count;
                output.Add(new(GbnfElementType.CharAny, 0));
            }
            else if (c is '*' or '+' or '?')
            {
                _pos++;
                Repeat(rule, output, lastSymbol, c == '+' ? 1 : 0, c == '?' ? 1 : -1);
            }
            else if (c == '{')
            {
                _pos++;
                SkipSpace(nested);
                int min = ParseInt(), max = min;
                SkipSpace(nested);
                if (Eat(","))
                {
                    SkipSpace(nested);
                    max = _pos < _src.Length && char.IsAsciiDigit(_src[_pos]) ? ParseInt() : -1;
                    SkipSpace(nested);
                }
                if (!Eat("}")) throw Error("expected '}' after a repetition count");
                if (max >= 0 && max < min) throw Error($"repetition {{{min},{max}}}: the maximum is below the minimum");
                Repeat(rule, output, lastSymbol, min, max);
            }
            else break;
            SkipSpace(nested);
        }
    }

    // llama.cpp's rewrite: S{m,n} -> S ... S (m times) then n - m nested optional rules (S rest | ), S{m,} -> S ... S R
    // with R ::= S R | .
    private void Repeat(string rule, List<GbnfElement> output, int lastSymbol, int min, int max)
    {
        if (lastSymbol == output.Count) throw Error("a repetition (* + ? {}) has no item before it");
        if (min > MaxRepetitions || max > MaxRepetitions) throw Error($"a repetition count above {MaxRepetitions}");
        var item = output.GetRange(lastSymbol, output.Count - lastSymbol);
        if (min == 0) output.RemoveRange(lastSymbol, output.Count - lastSymbol);
        else for (int i = 1; i < min; i++) output.AddRange(item);
        int optional = max < 0 ? 1 : max - min, last = -1;
        for (int i = 0; i < optional; i++)
        {
            int id = NewSymbol(rule);
            var r = new List<GbnfElement>(item);
            if (i > 0 || max < 0) r.Add(new(GbnfElementType.RuleRef, (uint)(max < 0 ? id : last)));
            r.Add(new(GbnfElementType.Alt, 0));
            r.Add(new(GbnfElementType.End, 0));
            _rules[id] = r;
            last = id;
        }
        if (optional > 0) output.Add(new(GbnfElementType.RuleRef, (uint)last));
    }

    private uint ParseChar()
    {
        if (_src[_pos] != '\\')
        {
            if (!Rune.TryGetRuneAt(_src, _pos, out var rune)) throw Error("invalid UTF-16 in the grammar");
            _pos += rune.Utf16SequenceLength;
            return (uint)rune.Value;
        }
        if (_pos + 1 >= _src.Length) throw Error("unfinished escape");
        char e = _src[_pos + 1];
        _pos += 2;
        return e switch
        {
            'x' => Hex(2),
            'u' => Hex(4),
            'U' => Hex(8),
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            '\\' or '"' or '[' or ']' or '-' or '^' => e,
            _ => throw Error($"unknown escape '\\{e}'"),
        };
    }

    private uint Hex(int digits)
    {
        if (_pos + digits > _src.Length || !uint.TryParse(_src.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint v))
            throw Error($"expected {digits} hex digits");
        if (v > 0x10FFFF) throw Error($"code point {v:X} is beyond U+10FFFF");
        _pos += digits;
        return v;
    }

    private int ParseInt()
    {
        int start = _pos;
        while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos])) _pos++;
        if (start == _pos) throw Error("expected a number");
        if (!int.TryParse(_src.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > MaxRepetitions)
            throw Error($"a repetition count above {MaxRepetitions}");
        return n;
    }

    private string ParseName()
    {
        int start = _pos;
        while (_pos < _src.Length && IsWordChar(_src[_pos])) _pos++;
        if (start == _pos) throw Error("expected a rule name");
        return _src[start.._pos];
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';

    private void SkipSpace(bool newlines)
    {
        while (_pos < _src.Length)
        {
            char c = _src[_pos];
            if (c is ' ' or '\t' || newlines && c is '\r' or '\n') _pos++;
            else if (c == '#')
                while (_pos < _src.Length && _src[_pos] != '\n') _pos++;
            else break;
        }
    }

    private bool Eat(string s)
    {
        if (string.CompareOrdinal(_src, _pos, s, 0, s.Length) != 0) return false;
        _pos += s.Length;
        return true;
    }

    private int SymbolId(string name)
    {
        if (_ids.TryGetValue(name, out int id)) return id;
        _ids[name] = id = _names.Count;
        _names.Add(name);
        _rules.Add(null);
        return id;
    }

    private int NewSymbol(string baseName)
    {
        int id = _names.Count;
        _names.Add($"{baseName}_{id}");
        _rules.Add(null);
        return id;
    }

    private TesseraException Error(string what)
    {
        int line = 1, col = 1;
        for (int i = 0; i < _pos && i < _src.Length; i++)
        {
            if (_src[i] == '\n') { line++; col = 1; }
            else col++;
        }
        return new TesseraException($"grammar: {what} at line {line}, column {col}");
    }

    private GbnfGrammar Build(string root)
    {
        if (!_ids.TryGetValue(root, out int rootId) || _rules[rootId] is null)
            throw new TesseraException($"grammar: no '{root}' rule (the document's rule)");
        for (int r = 0; r < _rules.Count; r++)
            if (_rules[r] is null) throw new TesseraException($"grammar: rule '{_names[r]}' is used but never defined");
        var elements = new List<GbnfElement>();
        var starts = new int[_rules.Count];
        for (int r = 0; r < _rules.Count; r++)
        {
            starts[r] = elements.Count;
            elements.AddRange(_rules[r]!);
        }
        var g = new GbnfGrammar([.. elements], starts, [.. _names], rootId);
        GbnfChecks.RejectLeftRecursion(g);
        return g;
    }
}
