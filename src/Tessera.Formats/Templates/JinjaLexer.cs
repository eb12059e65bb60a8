using System.Globalization;
using System.Text;

namespace Tessera.Formats.Templates;

internal enum TokenKind { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, Eof }

internal readonly record struct Token(TokenKind Kind, string Value, int Line)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;
    public bool IsName(string value) => Is(TokenKind.Name, value);
    public bool IsOp(string value) => Is(TokenKind.Operator, value);
    public object? Number => Kind == TokenKind.Integer
        ? (object)long.Parse(Value.Replace("_", ""), CultureInfo.InvariantCulture)
        : double.Parse(Value.Replace("_", ""), CultureInfo.InvariantCulture);
}

/// <summary>Splits a template into text and tag tokens the way Jinja2's lexer does with Hugging Face's settings:
/// newlines normalised and one trailing newline dropped, <c>{%- -%}</c> whitespace control, <c>trim_blocks</c> (the
/// newline after a block or comment tag goes) and <c>lstrip_blocks</c> (spaces and tabs before a block or comment tag
/// at the start of a line go); comments are dropped.</summary>
internal sealed class JinjaLexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}"];

    private readonly string _src;
    private readonly List<Token> _tokens = [];
    private readonly List<int> _lineStarts = [0];
    private int _pos;

    private JinjaLexer(string source)
    {
        _src = NormalizeNewlines(source);
        for (int i = 0; i < _src.Length; i++) if (_src[i] == '\n') _lineStarts.Add(i + 1);
    }

    public static List<Token> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    // Python's str.splitlines() boundaries become "\n", and a single trailing newline is dropped (keep_trailing_newline=False).
    private static string NormalizeNewlines(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\r')
            {
                if (i + 1 < s.Length && s[i + 1] == '\n') i++;
                sb.Append('\n');
            }
            else if (c is '\n' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029') sb.Append('\n');
            else sb.Append(c);
        }
        if (sb.Length > 0 && sb[^1] == '\n' && s.Length > 0) sb.Length--;
        return sb.ToString();
    }

    private int LineAt(int pos)
    {
        int i = _lineStarts.BinarySearch(pos);
        return i >= 0 ? i + 1 : ~i;
    }

    private void Run()
    {
        bool lineStarting = true;
        while (_pos < _src.Length)
        {
            int start = _pos;
            int tag = FindTagStart(_pos);
            string text = _src[start..(tag < 0 ? _src.Length : tag)];
            if (tag < 0)
            {
                Emit(text, LineAt(start));
                return;
            }
            char kind = _src[tag + 1];
            char sign = tag + 2 < _src.Length ? _src[tag + 2] : '\0';
            if (sign is not ('-' or '+')) sign = '\0';
            if (sign == '-') text = text.TrimEnd();
            else if (kind != '{' && sign != '+')
            {
                // lstrip_blocks: only whitespace between the line start and the tag goes.
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < text.Length && text.AsSpan(lineStart).IsWhiteSpace())
                    text = text[..lineStart];
            }
            Emit(text, LineAt(start));
            _pos = tag + 2 + (sign != '\0' ? 1 : 0);
            int tagLine = LineAt(tag);
            string endMatch = kind switch
            {
                '#' => SkipComment(tagLine),
                '%' => LexTag(TokenKind.BlockBegin, TokenKind.BlockEnd, '%', tagLine),
                _ => LexTag(TokenKind.VarBegin, TokenKind.VarEnd, '}', tagLine),
            };
            lineStarting = endMatch.EndsWith('\n');
        }
    }

    private void Emit(string text, int line)
    {
        if (text.Length > 0) _tokens.Add(new Token(TokenKind.Data, text, line));
    }

    private int FindTagStart(int from)
    {
        for (int i = from; i + 1 < _src.Length; i++)
            if (_src[i] == '{' && _src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    // Returns the text the end delimiter consumed (with what trim_blocks or '-' swallowed after it).
    private string AfterEnd(int endStart, int endLength, char sign, bool trims)
    {
        _pos = endStart + endLength;
        if (sign == '-') while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos])) _pos++;
        else if (trims && sign != '+' && _pos < _src.Length && _src[_pos] == '\n') _pos++;
        return _src[endStart.._pos];
    }

    private string SkipComment(int line)
    {
        int end = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0) throw new TemplateException("a comment {# is never closed by #}", line);
        char sign = end > _pos && _src[end - 1] is '-' or '+' ? _src[end - 1] : '\0';
        return AfterEnd(sign != '\0' ? end - 1 : end, sign != '\0' ? 3 : 2, sign, trims: true);
    }

    private string LexTag(TokenKind begin, TokenKind end, char closer, int line)
    {
        _tokens.Add(new Token(begin, "", line));
        int depth = 0;
        while (true)
        {
            while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos])) _pos++;
            if (_pos >= _src.Length)
                throw new TemplateException($"a tag opened with {(closer == '%' ? "{%" : "{{")} is never closed", line);
            int tokenLine = LineAt(_pos);
            if (depth == 0)
            {
                foreach (char sign in "-+\0")
                {
                    string delimiter = (sign == '\0' ? "" : sign.ToString()) + closer + "}";
                    if (sign == '+' && closer == '}') continue;
                    if (string.CompareOrdinal(_src, _pos, delimiter, 0, delimiter.Length) == 0)
                    {
                        _tokens.Add(new Token(end, "", tokenLine));
                        return AfterEnd(_pos, delimiter.Length, sign, trims: closer == '%');
                    }
                }
            }
            char c = _src[_pos];
            if (c is '\'' or '"') _tokens.Add(new Token(TokenKind.String, LexString(c, tokenLine), tokenLine));
            else if (char.IsAsciiDigit(c)) _tokens.Add(LexNumber(tokenLine));
            else if (char.IsLetter(c) || c == '_')
            {
                int s = _pos;
                while (_pos < _src.Length && (char.IsLetterOrDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
                _tokens.Add(new Token(TokenKind.Name, _src[s.._pos], tokenLine));
            }
            else
            {
                string? op = Operators.FirstOrDefault(o => string.CompareOrdinal(_src, _pos, o, 0, o.Length) == 0);
                if (op is null) throw new TemplateException($"unexpected character '{c}' in a tag", tokenLine);
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}") depth--;
                _pos += op.Length;
                _tokens.Add(new Token(TokenKind.Operator, op, tokenLine));
            }
        }
    }

    private Token LexNumber(int line)
    {
        int s = _pos;
        bool afterDot = _tokens.Count > 0 && _tokens[^1].IsOp(".");
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        bool isFloat = false;
        if (!afterDot && _pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        }
        if (!afterDot && _pos < _src.Length && _src[_pos] is 'e' or 'E')
        {
            int e = _pos + 1;
            if (e < _src.Length && _src[e] is '+' or '-') e++;
            if (e < _src.Length && char.IsAsciiDigit(_src[e]))
            {
                isFloat = true;
                _pos = e;
                while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos])) _pos++;
            }
        }
        return new Token(isFloat ? TokenKind.Float : TokenKind.Integer, _src[s.._pos], line);
    }

    // Jinja decodes string literals with Python's unicode-escape: \n \t \\ \' \" \xhh \uhhhh \Uhhhhhhhh \ooo ...;
    // an unknown escape keeps its backslash.
    private string LexString(char quote, int line)
    {
        var sb = new StringBuilder();
        _pos++;
        while (true)
        {
            if (_pos >= _src.Length) throw new TemplateException("a string literal is never closed", line);
            char c = _src[_pos++];
            if (c == quote) return sb.ToString();
            if (c != '\\') { sb.Append(c); continue; }
            if (_pos >= _src.Length) throw new TemplateException("a string literal ends in a backslash", line);
            char e = _src[_pos++];
            switch (e)
            {
                case '\n': break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case 'x': sb.Append(Hex(2, line)); break;
                case 'u': sb.Append(Hex(4, line)); break;
                case 'U': sb.Append(Hex(8, line)); break;
                case >= '0' and <= '7':
                    int value = e - '0';
                    for (int k = 0; k < 2 && _pos < _src.Length && _src[_pos] is >= '0' and <= '7'; k++) value = value * 8 + (_src[_pos++] - '0');
                    sb.Append(char.ConvertFromUtf32(value));
                    break;
                default: sb.Append('\\').Append(e); break;
            }
        }
    }

    private string Hex(int digits, int line)
    {
        if (_pos + digits > _src.Length || !int.TryParse(_src.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v)
            || v > 0x10FFFF)
            throw new TemplateException($"a string literal has a bad \\x, \\u or \\U escape", line);
        _pos += digits;
        return v is >= 0xD800 and <= 0xDFFF ? ((char)v).ToString() : char.ConvertFromUtf32(v);
    }
}
