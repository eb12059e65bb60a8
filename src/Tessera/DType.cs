namespace Tessera;

/// <summary>Element types a tensor can hold. Block types store <see cref="DTypeInfo.BlockSize"/> elements in
/// <see cref="DTypeInfo.BlockBytes"/> bytes, byte for byte as GGUF defines them.</summary>
public enum DType : byte
{
    /// <summary>IEEE 754 binary32.</summary>
    F32,
    /// <summary>IEEE 754 binary16 (<see cref="Half"/>).</summary>
    F16,
    /// <summary>bfloat16, stored as the upper 16 bits of an f32 (a <see cref="ushort"/>).</summary>
    BF16,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>GGUF Q8_0: blocks of 32 int8 weights with one f16 scale (34 bytes).</summary>
    Q8_0,
    /// <summary>GGUF Q4_0: blocks of 32 4-bit weights with one f16 scale (18 bytes).</summary>
    Q4_0,
    /// <summary>GGUF Q4_1: blocks of 32 4-bit weights with f16 scale and minimum (20 bytes).</summary>
    Q4_1,
    /// <summary>GGUF Q4_K: super-blocks of 256 4-bit weights, 8 sub-blocks with 6-bit scales and minimums (144 bytes).</summary>
    Q4_K,
    /// <summary>GGUF Q6_K: super-blocks of 256 6-bit weights with 16 int8 sub-block scales (210 bytes).</summary>
    Q6_K,
    /// <summary>GGUF Q8_K: super-blocks of 256 int8 values with an f32 scale and 16 partial sums (292 bytes); the
    /// activation format of the K-quant dot products.</summary>
    Q8_K,
}

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypeInfo
{
    /// <summary>Elements in one storage block: 1 for plain types, 32 for the GGUF block types.</summary>
    public static int BlockSize(this DType t) => t switch
    {
        DType.Q8_0 or DType.Q4_0 or DType.Q4_1 => 32,
        DType.Q4_K or DType.Q6_K or DType.Q8_K => 256,
        _ => 1,
    };

    /// <summary>Bytes of one storage block.</summary>
    public static int BlockBytes(this DType t) => t switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.I8 or DType.U8 => 1,
        DType.I64 => 8,
        DType.Q8_0 => 34,
        DType.Q4_0 => 18,
        DType.Q4_1 => 20,
        DType.Q4_K => 144,
        DType.Q6_K => 210,
        DType.Q8_K => 292,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>Whether the type stores elements in blocks (no per-element addressing, no strided views).</summary>
    public static bool IsBlock(this DType t) => t.BlockSize() > 1;

    /// <summary>Whether the type is a floating-point element type.</summary>
    public static bool IsFloat(this DType t) => t is DType.F32 or DType.F16 or DType.BF16;

    /// <summary>Bytes needed for <paramref name="elements"/> elements; throws when the count is not a whole
    /// number of blocks or the size overflows.</summary>
    public static long ByteCount(this DType t, long elements)
    {
        int bs = t.BlockSize();
        if (elements < 0 || elements % bs != 0)
            throw new TesseraException($"{elements} elements of {t} is not a whole number of {bs}-element blocks");
        try { return checked(elements / bs * t.BlockBytes()); }
        catch (OverflowException) { throw new TesseraException($"{elements} elements of {t.Name()} take more bytes than fit in 64 bits"); }
    }

    /// <summary>Lower-case name as used on the command line and in file formats ("f32", "bf16", "q8_0").</summary>
    public static string Name(this DType t) => t.ToString().ToLowerInvariant();

    /// <summary>Parses a name written by <see cref="Name"/>.</summary>
    public static DType Parse(string name) =>
        Enum.TryParse<DType>(name, ignoreCase: true, out var t) ? t
        : throw new TesseraException($"unknown dtype '{name}' (known: {string.Join(", ", Enum.GetNames<DType>().Select(n => n.ToLowerInvariant()))})");

    /// <summary>The DType of a CLR element type.</summary>
    public static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.F32
        : typeof(T) == typeof(Half) ? DType.F16
        : typeof(T) == typeof(BFloat16) ? DType.BF16
        : typeof(T) == typeof(sbyte) ? DType.I8
        : typeof(T) == typeof(byte) ? DType.U8
        : typeof(T) == typeof(int) ? DType.I32
        : typeof(T) == typeof(long) ? DType.I64
        : throw new TesseraException($"no DType for CLR type {typeof(T).Name}");
}
