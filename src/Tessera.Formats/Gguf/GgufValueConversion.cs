namespace Tessera.Formats.Gguf;

/// <summary>Converts a <see cref="GgufValue"/> to a CLR type for <see cref="GgufMetadata"/>, with errors that say what
/// the key holds and what was expected. Dispatch is on <c>typeof(T)</c>, no reflection, so it is NativeAOT-safe.</summary>
internal static class GgufValueConversion
{
    public static T To<T>(GgufValue v, string key, string file)
    {
        if (typeof(T).IsArray)
        {
            if (v.Type != GgufType.Array || v.ElementType == GgufType.Array)
                throw Mismatch(v, key, file, ExpectedArray(typeof(T).GetElementType()!));
            var items = (Array)v.Value;
            return (T)(object)ConvertArray<T>(items, key, file, v);
        }
        return (T)Scalar(typeof(T), v.Value, () => Mismatch(v, key, file, Expected(typeof(T))), key, file);
    }

    private static object ConvertArray<T>(Array items, string key, string file, GgufValue v)
    {
        // Each supported element type spelled out so that no array is made through reflection.
        if (typeof(T) == typeof(string[])) return Map<string>(items, v, key, file);
        if (typeof(T) == typeof(bool[])) return Map<bool>(items, v, key, file);
        if (typeof(T) == typeof(float[])) return Map<float>(items, v, key, file);
        if (typeof(T) == typeof(double[])) return Map<double>(items, v, key, file);
        if (typeof(T) == typeof(int[])) return Map<int>(items, v, key, file);
        if (typeof(T) == typeof(uint[])) return Map<uint>(items, v, key, file);
        if (typeof(T) == typeof(long[])) return Map<long>(items, v, key, file);
        if (typeof(T) == typeof(ulong[])) return Map<ulong>(items, v, key, file);
        if (typeof(T) == typeof(short[])) return Map<short>(items, v, key, file);
        if (typeof(T) == typeof(ushort[])) return Map<ushort>(items, v, key, file);
        if (typeof(T) == typeof(byte[])) return Map<byte>(items, v, key, file);
        if (typeof(T) == typeof(sbyte[])) return Map<sbyte>(items, v, key, file);
        throw new ArgumentException($"GGUF metadata cannot be read as {typeof(T).Name}");
    }

    private static E[] Map<E>(Array items, GgufValue v, string key, string file)
    {
        if (items is E[] same) return (E[])same.Clone();
        var result = new E[items.Length];
        for (int i = 0; i < result.Length; i++)
            result[i] = (E)Scalar(typeof(E), items.GetValue(i)!, () => Mismatch(v, key, file, ExpectedArray(typeof(E))), $"{key}[{i}]", file);
        return result;
    }

    private static object Scalar(Type t, object value, Func<WeightFormatException> mismatch, string key, string file)
    {
        if (t == typeof(string)) return value as string ?? throw mismatch();
        if (t == typeof(bool)) return value is bool b ? b : throw mismatch();
        if (t == typeof(float) || t == typeof(double))
        {
            double d = value switch
            {
                float f => f, double x => x,
                byte or sbyte or ushort or short or uint or int or long => Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture),
                ulong u => u,
                _ => throw mismatch(),
            };
            return t == typeof(float) ? (object)(float)d : d;
        }
        if (value is not (byte or sbyte or ushort or short or uint or int or long or ulong)) throw mismatch();
        // Integers: any width, when the value fits.
        bool negative = value is sbyte or short or int or long && Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) < 0;
        System.Numerics.BigInteger n = negative ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : Convert.ToUInt64(value, System.Globalization.CultureInfo.InvariantCulture);
        var (min, max) = Range(t);
        if (n < min || n > max)
            throw new WeightFormatException(file, null, $"metadata key '{key}' is {n}, outside the range of {t.Name} [{min}, {max}]");
        if (t == typeof(int)) return (int)n;
        if (t == typeof(uint)) return (uint)n;
        if (t == typeof(long)) return (long)n;
        if (t == typeof(ulong)) return (ulong)n;
        if (t == typeof(short)) return (short)n;
        if (t == typeof(ushort)) return (ushort)n;
        if (t == typeof(byte)) return (byte)n;
        return (sbyte)n;
    }

    private static (System.Numerics.BigInteger Min, System.Numerics.BigInteger Max) Range(Type t) =>
        t == typeof(int) ? (int.MinValue, int.MaxValue)
        : t == typeof(uint) ? (uint.MinValue, uint.MaxValue)
        : t == typeof(long) ? (long.MinValue, long.MaxValue)
        : t == typeof(ulong) ? (ulong.MinValue, ulong.MaxValue)
        : t == typeof(short) ? (short.MinValue, short.MaxValue)
        : t == typeof(ushort) ? (ushort.MinValue, ushort.MaxValue)
        : t == typeof(byte) ? (byte.MinValue, byte.MaxValue)
        : t == typeof(sbyte) ? (sbyte.MinValue, sbyte.MaxValue)
        : throw new ArgumentException($"GGUF metadata cannot be read as {t.Name}");

    private static string Expected(Type t) =>
        t == typeof(string) ? "a string"
        : t == typeof(bool) ? "a bool"
        : t == typeof(float) || t == typeof(double) ? "a number"
        : t == typeof(uint) || t == typeof(ulong) || t == typeof(ushort) || t == typeof(byte) ? "an unsigned integer"
        : t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(sbyte) ? "an integer"
        : throw new ArgumentException($"GGUF metadata cannot be read as {t.Name}");

    private static string ExpectedArray(Type t) => "an array of " + Expected(t) switch
    {
        "a string" => "strings", "a bool" => "bools", "a number" => "numbers", "an unsigned integer" => "unsigned integers", _ => "integers",
    };

    private static string Found(GgufValue v) => v.Type == GgufType.Array
        ? v.ElementType == GgufType.Array ? "an array of arrays" : $"an array of {Name(v.ElementType)}"
        : Article(Name(v.Type));

    private static string Name(GgufType t) => t switch
    {
        GgufType.String => "string", GgufType.Bool => "bool", GgufType.Float32 => "float32", GgufType.Float64 => "float64",
        _ => t.ToString().ToLowerInvariant(),
    };

    private static string Article(string s) => ("aeio".Contains(s[0]) ? "an " : "a ") + s; // "a uint32", "an int32"

    private static WeightFormatException Mismatch(GgufValue v, string key, string file, string expected) =>
        new(file, null, $"metadata key '{key}' is {Found(v)}, expected {expected}");
}
