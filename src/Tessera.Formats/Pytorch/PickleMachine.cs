using System.Buffers.Binary;
using System.Text;

namespace Tessera.Formats.Pytorch;

/// <summary>A pickle interpreter that treats the pickle as data, as candle's <c>pickle.rs</c> does: the binary opcodes
/// (protocols 2 to 5) that build scalars, strings and containers, the memo, and GLOBAL / REDUCE / NEWOBJ / BUILD /
/// BINPERSID only for the allow-listed names of <see cref="PickleGlobals"/> that rebuild tensors and containers.
/// Nothing is imported or executed: a global outside the allow-list, an opcode outside this set (INST, OBJ, EXT*, the
/// text opcodes) or a malformed stream is a <see cref="WeightFormatException"/> naming it. The stack, the memo and
/// every length are bounded by the pickle's own size and by <see cref="MaxStack"/> / <see cref="MaxMemo"/>.</summary>
internal sealed class PickleMachine
{
    /// <summary>The most values on the stack at once.</summary>
    public const int MaxStack = 1 << 20;

    /// <summary>The most memo entries.</summary>
    public const int MaxMemo = 1 << 20;

    private readonly string _file;
    private readonly byte[] _data;
    private readonly Func<object?, Func<string, WeightFormatException>, object?> _persistentLoad;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];
    private int _pos, _op;

    private PickleMachine(string file, byte[] data, Func<object?, Func<string, WeightFormatException>, object?> persistentLoad)
    {
        _file = file;
        _data = data;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Runs <paramref name="data"/> to its STOP and returns the value it built. <paramref name="persistentLoad"/>
    /// resolves a BINPERSID id (a torch storage reference) to a value, or throws through the given error factory.</summary>
    public static object? Run(string file, byte[] data, Func<object?, Func<string, WeightFormatException>, object?> persistentLoad) =>
        new PickleMachine(file, data, persistentLoad).Run();

    private WeightFormatException Fail(string problem) =>
        new(_file, null, $"data.pkl, opcode {OpName(_data[_op])} at offset {_op}: {problem}");

    private object? Run()
    {
        while (true)
        {
            if (_pos >= _data.Length) throw new WeightFormatException(_file, null, $"data.pkl ends at offset {_pos} without a STOP opcode (truncated)");
            _op = _pos;
            byte op = _data[_pos++];
            switch (op)
            {
                case 0x80: // PROTO
                    if (U8() is < 2 or > 5) throw Fail($"protocol {_data[_pos - 1]}; only 2 to 5 are read");
                    break;
                case 0x95: // FRAME: a hint for buffering; the frame's bytes are ordinary opcodes
                    if (U64() > (ulong)(_data.Length - _pos)) throw Fail("the frame runs past the end of the pickle");
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Fail($"STOP with {_stack.Count} values on the stack and {_marks.Count} marks open");
                    return _stack[0];
                case (byte)'(': // MARK
                    if (_marks.Count >= MaxStack) throw Fail($"more than {MaxStack} marks");
                    _marks.Add(_stack.Count);
                    break;
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'J': Push((long)(int)U32()); break; // BININT
                case (byte)'K': Push((long)U8()); break; // BININT1
                case (byte)'M': Push((long)U16()); break; // BININT2
                case 0x8a: Push(Long(U8())); break; // LONG1
                case 0x8b: Push(Long(U32())); break; // LONG4
                case (byte)'G': Push(BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64BigEndian(Take(8)))); break; // BINFLOAT
                case (byte)'X': Push(Utf8(Take(U32()))); break; // BINUNICODE
                case 0x8c: Push(Utf8(Take(U8()))); break; // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(Take(U64()))); break; // BINUNICODE8
                case (byte)'T': Push(Encoding.Latin1.GetString(Take(U32()))); break; // BINSTRING (a Python 2 str)
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(U8()))); break; // SHORT_BINSTRING
                case (byte)'B': Push(Take(U32()).ToArray()); break; // BINBYTES
                case (byte)'C': Push(Take(U8()).ToArray()); break; // SHORT_BINBYTES
                case 0x8e: Push(Take(U64()).ToArray()); break; // BINBYTES8
                case (byte)'}': Push(new PyDict()); break; // EMPTY_DICT
                case (byte)']': Push(new PyList()); break; // EMPTY_LIST
                case 0x8f: Push(new PyList()); break; // EMPTY_SET
                case (byte)')': Push(PyTuple.Empty); break; // EMPTY_TUPLE
                case (byte)'t': Push(new PyTuple(PopMark())); break; // TUPLE
                case 0x85: Push(new PyTuple([Pop()])); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PyTuple([a, b])); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PyTuple([a, b, c])); break; } // TUPLE3
                case 0x91: { var l = new PyList(); l.AddRange(PopMark()); Push(l); break; } // FROZENSET
                case (byte)'l': { var l = new PyList(); l.AddRange(PopMark()); Push(l); break; } // LIST
                case (byte)'d': { var d = new PyDict(); SetItems(d, PopMark()); Push(d); break; } // DICT
                case (byte)'a': { var v = Pop(); ListOnTop("APPEND").Add(v); break; } // APPEND
                case (byte)'e': { var items = PopMark(); ListOnTop("APPENDS").AddRange(items); break; } // APPENDS
                case 0x90: { var items = PopMark(); ListOnTop("ADDITEMS").AddRange(items); break; } // ADDITEMS
                case (byte)'s': { var v = Pop(); var k = Pop(); DictOnTop("SETITEM").Set(k, v); break; } // SETITEM
                case (byte)'u': { var items = PopMark(); SetItems(DictOnTop("SETITEMS"), items); break; } // SETITEMS
                case (byte)'q': Memo(U8()); break; // BINPUT
                case (byte)'r': Memo(U32()); break; // LONG_BINPUT
                case 0x94: Memo(_memo.Count); break; // MEMOIZE
                case (byte)'h': Push(Recall(U8())); break; // BINGET
                case (byte)'j': Push(Recall(U32())); break; // LONG_BINGET
                case (byte)'c': { string module = Line(), name = Line(); Push(Global(module, name)); break; } // GLOBAL
                case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop();
                        var module = Pop();
                        if (module is not string m || name is not string n) throw Fail($"STACK_GLOBAL of {PickleGlobals.Describe(module)}, {PickleGlobals.Describe(name)}");
                        Push(Global(m, n));
                        break;
                    }
                case (byte)'R': // REDUCE
                    {
                        var args = Pop();
                        var f = Pop();
                        if (f is not PyGlobal g || args is not PyTuple t) throw Fail($"REDUCE of {PickleGlobals.Describe(f)} with {PickleGlobals.Describe(args)}");
                        Push(PickleGlobals.Reduce(g, t, Fail));
                        break;
                    }
                case 0x81: // NEWOBJ
                    {
                        var args = Pop();
                        var cls = Pop();
                        if (cls is not PyGlobal g || args is not PyTuple t) throw Fail($"NEWOBJ of {PickleGlobals.Describe(cls)} with {PickleGlobals.Describe(args)}");
                        Push(PickleGlobals.New(g, t, Fail));
                        break;
                    }
                case (byte)'b': // BUILD: an OrderedDict's attributes (a state dict's _metadata) are not tensors; dropped
                    {
                        var state = Pop();
                        var obj = Peek();
                        if (obj is not (PyDict or PthTensorView)) throw Fail($"BUILD on a {PickleGlobals.Describe(obj)} with {PickleGlobals.Describe(state)}");
                        break;
                    }
                case (byte)'Q': Push(_persistentLoad(Pop(), Fail)); break; // BINPERSID
                default:
                    throw Fail(KnownRefused.Contains(op)
                        ? "this opcode is not accepted in a checkpoint (it is never needed to rebuild tensors and containers)"
                        : "unknown opcode");
            }
        }
    }

    // Opcodes that exist but are refused: text-protocol forms, INST/OBJ (which call a class), the extension registry,
    // out-of-band buffers, PERSID's text form. Named so that the message says "refused", not "garbage".
    private static readonly HashSet<byte> KnownRefused = [.. "IFLSVpgPio"u8, 0x82, 0x83, 0x84, 0x92, 0x96, 0x97, 0x98];

    private static readonly Dictionary<byte, string> Names = new()
    {
        [0x80] = "PROTO", [0x95] = "FRAME", [(byte)'.'] = "STOP", [(byte)'('] = "MARK", [(byte)'0'] = "POP", [(byte)'1'] = "POP_MARK",
        [(byte)'2'] = "DUP", [(byte)'N'] = "NONE", [0x88] = "NEWTRUE", [0x89] = "NEWFALSE", [(byte)'J'] = "BININT", [(byte)'K'] = "BININT1",
        [(byte)'M'] = "BININT2", [0x8a] = "LONG1", [0x8b] = "LONG4", [(byte)'G'] = "BINFLOAT", [(byte)'X'] = "BINUNICODE",
        [0x8c] = "SHORT_BINUNICODE", [0x8d] = "BINUNICODE8", [(byte)'T'] = "BINSTRING", [(byte)'U'] = "SHORT_BINSTRING",
        [(byte)'B'] = "BINBYTES", [(byte)'C'] = "SHORT_BINBYTES", [0x8e] = "BINBYTES8", [(byte)'}'] = "EMPTY_DICT", [(byte)']'] = "EMPTY_LIST",
        [0x8f] = "EMPTY_SET", [(byte)')'] = "EMPTY_TUPLE", [(byte)'t'] = "TUPLE", [0x85] = "TUPLE1", [0x86] = "TUPLE2", [0x87] = "TUPLE3",
        [0x91] = "FROZENSET", [(byte)'l'] = "LIST", [(byte)'d'] = "DICT", [(byte)'a'] = "APPEND", [(byte)'e'] = "APPENDS", [0x90] = "ADDITEMS",
        [(byte)'s'] = "SETITEM", [(byte)'u'] = "SETITEMS", [(byte)'q'] = "BINPUT", [(byte)'r'] = "LONG_BINPUT", [0x94] = "MEMOIZE",
        [(byte)'h'] = "BINGET", [(byte)'j'] = "LONG_BINGET", [(byte)'c'] = "GLOBAL", [0x93] = "STACK_GLOBAL", [(byte)'R'] = "REDUCE",
        [0x81] = "NEWOBJ", [(byte)'b'] = "BUILD", [(byte)'Q'] = "BINPERSID", [(byte)'I'] = "INT", [(byte)'F'] = "FLOAT", [(byte)'L'] = "LONG",
        [(byte)'S'] = "STRING", [(byte)'V'] = "UNICODE", [(byte)'p'] = "PUT", [(byte)'g'] = "GET", [(byte)'P'] = "PERSID", [(byte)'i'] = "INST",
        [(byte)'o'] = "OBJ", [0x82] = "EXT1", [0x83] = "EXT2", [0x84] = "EXT4", [0x92] = "NEWOBJ_EX", [0x96] = "BYTEARRAY8",
        [0x97] = "NEXT_BUFFER", [0x98] = "READONLY_BUFFER",
    };

    private static string OpName(byte op) => Names.TryGetValue(op, out var n) ? $"{n} (0x{op:x2})" : $"0x{op:x2}";

    private object? Global(string module, string name)
    {
        if (!PickleGlobals.IsAllowed(module, name))
            throw Fail($"global '{module}.{name}' is refused: only the names that rebuild tensors and containers are read, and nothing in a checkpoint is ever executed");
        return new PyGlobal(module, name);
    }

    private void Push(object? v)
    {
        if (_stack.Count >= MaxStack) throw Fail($"more than {MaxStack} values on the stack");
        _stack.Add(v);
    }

    private object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Fail("the stack is empty (or the values above the last MARK are)");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Fail("the stack is empty (or the values above the last MARK are)");
        return _stack[^1];
    }

    private object?[] PopMark()
    {
        if (_marks.Count == 0) throw Fail("no MARK to pop to");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m, _stack.Count - m).ToArray();
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private PyList ListOnTop(string what) => Peek() as PyList ?? throw Fail($"{what} onto a {PickleGlobals.Describe(Peek())}, not a list");

    private PyDict DictOnTop(string what) => Peek() as PyDict ?? throw Fail($"{what} onto a {PickleGlobals.Describe(Peek())}, not a dict");

    private void SetItems(PyDict d, object?[] items)
    {
        if (items.Length % 2 != 0) throw Fail($"an odd number of values ({items.Length}) for key-value pairs");
        for (int i = 0; i < items.Length; i += 2) d.Set(items[i], items[i + 1]);
    }

    private void Memo(long index)
    {
        if (_memo.Count >= MaxMemo && !_memo.ContainsKey(index)) throw Fail($"more than {MaxMemo} memo entries");
        _memo[index] = Peek();
    }

    private object? Recall(long index) => _memo.TryGetValue(index, out var v) ? v : throw Fail($"memo entry {index} was never stored");

    private ReadOnlySpan<byte> Take(ulong n)
    {
        if (n > (ulong)(_data.Length - _pos)) throw Fail($"needs {n} bytes, the pickle has {_data.Length - _pos} left (truncated)");
        var s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    private byte U8() => Take(1)[0];
    private ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
    private uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    private ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    // LONG1 / LONG4: little-endian two's complement; a checkpoint's integers (sizes, strides, offsets) fit 64 bits.
    private long Long(ulong n)
    {
        if (n > 8) throw Fail($"a {n}-byte integer; integers wider than 64 bits are not read");
        var b = Take(n);
        if (n == 0) return 0;
        long v = (sbyte)b[^1]; // sign-extends the top byte
        for (int i = b.Length - 2; i >= 0; i--) v = (v << 8) | b[i];
        return v;
    }

    private string Utf8(ReadOnlySpan<byte> bytes)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw Fail("a string that is not valid UTF-8");
        return Encoding.UTF8.GetString(bytes);
    }

    // GLOBAL's operands: two newline-terminated ASCII lines ("module\nname\n").
    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos, Math.Min(256, _data.Length - _pos));
        if (end < 0) throw Fail("a GLOBAL name without its newline within 256 bytes");
        string s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }
}
