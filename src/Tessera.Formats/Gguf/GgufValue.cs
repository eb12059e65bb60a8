using System.Globalization;

namespace Tessera.Formats.Gguf;

/// <summary>GGUF's metadata value types (<c>enum gguf_type</c>); the numbers are fixed by the file format.</summary>
public enum GgufType : uint
{
#pragma warning disable CS1591 // the names are GGUF's
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9,
    UInt64 = 10, Int64 = 11, Float64 = 12,
#pragma warning restore CS1591
}

/// <summary>A typed GGUF metadata value. <see cref="Value"/> is the boxed CLR scalar (byte, sbyte, ushort, short, uint,
/// int, float, bool, string, ulong, long, double) or, for <see cref="GgufType.Array"/>, a CLR array: a typed array for
/// scalar elements (<c>int[]</c>, <c>string[]</c>, ...) or <c>GgufValue[]</c> of arrays for nested arrays.</summary>
public sealed class GgufValue
{
    private GgufValue(GgufType type, GgufType elementType, object value)
    {
        Type = type;
        ElementType = elementType;
        Value = value;
    }

    /// <summary>The value's type.</summary>
    public GgufType Type { get; }

    /// <summary>For arrays, the type of the elements; otherwise equal to <see cref="Type"/>.</summary>
    public GgufType ElementType { get; }

    /// <summary>The value (see the class remarks for the CLR types).</summary>
    public object Value { get; }

    /// <summary>Number of elements of an array (1 for a scalar).</summary>
    public int Count => Value is Array a ? a.Length : 1;

#pragma warning disable CS1591 // one factory per GGUF type
    public static GgufValue From(byte v) => new(GgufType.UInt8, GgufType.UInt8, v);
    public static GgufValue From(sbyte v) => new(GgufType.Int8, GgufType.Int8, v);
    public static GgufValue From(ushort v) => new(GgufType.UInt16, GgufType.UInt16, v);
    public static GgufValue From(short v) => new(GgufType.Int16, GgufType.Int16, v);
    public static GgufValue From(uint v) => new(GgufType.UInt32, GgufType.UInt32, v);
    public static GgufValue From(int v) => new(GgufType.Int32, GgufType.Int32, v);
    public static GgufValue From(float v) => new(GgufType.Float32, GgufType.Float32, v);
    public static GgufValue From(bool v) => new(GgufType.Bool, GgufType.Bool, v);
    public static GgufValue From(string v) => new(GgufType.String, GgufType.String, v);
    public static GgufValue From(ulong v) => new(GgufType.UInt64, GgufType.UInt64, v);
    public static GgufValue From(long v) => new(GgufType.Int64, GgufType.Int64, v);
    public static GgufValue From(double v) => new(GgufType.Float64, GgufType.Float64, v);
    public static GgufValue Array(byte[] v) => new(GgufType.Array, GgufType.UInt8, v);
    public static GgufValue Array(sbyte[] v) => new(GgufType.Array, GgufType.Int8, v);
    public static GgufValue Array(ushort[] v) => new(GgufType.Array, GgufType.UInt16, v);
    public static GgufValue Array(short[] v) => new(GgufType.Array, GgufType.Int16, v);
    public static GgufValue Array(uint[] v) => new(GgufType.Array, GgufType.UInt32, v);
    public static GgufValue Array(int[] v) => new(GgufType.Array, GgufType.Int32, v);
    public static GgufValue Array(float[] v) => new(GgufType.Array, GgufType.Float32, v);
    public static GgufValue Array(bool[] v) => new(GgufType.Array, GgufType.Bool, v);
    public static GgufValue Array(string[] v) => new(GgufType.Array, GgufType.String, v);
    public static GgufValue Array(ulong[] v) => new(GgufType.Array, GgufType.UInt64, v);
    public static GgufValue Array(long[] v) => new(GgufType.Array, GgufType.Int64, v);
    public static GgufValue Array(double[] v) => new(GgufType.Array, GgufType.Float64, v);
#pragma warning restore CS1591

    /// <summary>An array of arrays (each element must itself be an array value).</summary>
    public static GgufValue Array(GgufValue[] arrays)
    {
        foreach (var a in arrays)
            if (a.Type != GgufType.Array) throw new TesseraException($"a nested GGUF array holds arrays only, not {a.Type}");
        return new(GgufType.Array, GgufType.Array, arrays);
    }

    /// <summary>A numeric scalar as a long (unsigned 64-bit values above long.MaxValue throw).</summary>
    public long AsInt64() => Value switch
    {
        byte v => v, sbyte v => v, ushort v => v, short v => v, uint v => v, int v => v, long v => v,
        ulong v => checked((long)v),
        _ => throw new TesseraException($"GGUF value of type {Type} is not an integer"),
    };

    /// <summary>Structural equality (element by element for arrays; bitwise for floats, so NaNs compare equal).</summary>
    public bool ContentEquals(GgufValue other)
    {
        if (Type != other.Type || ElementType != other.ElementType) return false;
        if (Value is GgufValue[] a && other.Value is GgufValue[] b)
            return a.Length == b.Length && a.Zip(b).All(p => p.First.ContentEquals(p.Second));
        if (Value is Array x && other.Value is Array y)
        {
            if (x.Length != y.Length) return false;
            for (int i = 0; i < x.Length; i++) if (!ScalarEquals(x.GetValue(i)!, y.GetValue(i)!)) return false;
            return true;
        }
        return ScalarEquals(Value, other.Value);
    }

    private static bool ScalarEquals(object a, object b) => (a, b) switch
    {
        (float x, float y) => BitConverter.SingleToInt32Bits(x) == BitConverter.SingleToInt32Bits(y),
        (double x, double y) => BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y),
        _ => a.Equals(b),
    };

    /// <summary>A short human-readable form; long arrays show their first elements and their length.</summary>
    public override string ToString() => ToString(8);

    /// <summary>As <see cref="ToString()"/>, showing at most <paramref name="maxItems"/> array elements.</summary>
    public string ToString(int maxItems)
    {
        if (Value is Array arr)
        {
            var items = new List<string>();
            for (int i = 0; i < Math.Min(arr.Length, maxItems); i++)
                items.Add(arr.GetValue(i) is GgufValue g ? g.ToString(maxItems) : Scalar(arr.GetValue(i)!));
            string more = arr.Length > maxItems ? $", ... ({arr.Length} {ElementType.ToString().ToLowerInvariant()})" : "";
            return "[" + string.Join(", ", items) + more + "]";
        }
        return Scalar(Value);
    }

    private static string Scalar(object v) => v switch
    {
        string s => "\"" + (s.Length > 200 ? s[..200] + "..." : s) + "\"",
        bool b => b ? "true" : "false",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}
