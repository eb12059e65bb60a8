namespace Tessera.Formats.Gguf;

/// <summary>ggml's <c>enum ggml_type</c> as stored in GGUF tensor infos; the numbers are fixed by the file format.</summary>
public enum GgmlType : uint
{
#pragma warning disable CS1591 // the names are ggml's
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
#pragma warning restore CS1591
}

/// <summary>Block sizes of the ggml types (ggml's <c>type_traits</c> table: elements per block, bytes per block) and
/// their mapping to Tessera dtypes.</summary>
public static class GgmlTypes
{
    /// <summary>(elements per block, bytes per block), or null for a number that is no ggml type (removed ones included).</summary>
    public static (int BlockSize, int TypeSize)? Traits(uint type) => (GgmlType)type switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 => (1, 2),
        GgmlType.Q4_0 => (32, 18),
        GgmlType.Q4_1 => (32, 20),
        GgmlType.Q5_0 => (32, 22),
        GgmlType.Q5_1 => (32, 24),
        GgmlType.Q8_0 => (32, 34),
        GgmlType.Q8_1 => (32, 36),
        GgmlType.Q2_K => (256, 84),
        GgmlType.Q3_K => (256, 110),
        GgmlType.Q4_K => (256, 144),
        GgmlType.Q5_K => (256, 176),
        GgmlType.Q6_K => (256, 210),
        GgmlType.Q8_K => (256, 292),
        GgmlType.IQ2_XXS => (256, 66),
        GgmlType.IQ2_XS => (256, 74),
        GgmlType.IQ3_XXS => (256, 98),
        GgmlType.IQ1_S => (256, 50),
        GgmlType.IQ4_NL => (32, 18),
        GgmlType.IQ3_S => (256, 110),
        GgmlType.IQ2_S => (256, 82),
        GgmlType.IQ4_XS => (256, 136),
        GgmlType.I8 => (1, 1),
        GgmlType.I16 => (1, 2),
        GgmlType.I32 => (1, 4),
        GgmlType.I64 => (1, 8),
        GgmlType.F64 => (1, 8),
        GgmlType.IQ1_M => (256, 56),
        GgmlType.BF16 => (1, 2),
        GgmlType.TQ1_0 => (256, 54),
        GgmlType.TQ2_0 => (256, 66),
        GgmlType.MXFP4 => (32, 17),
        _ => null,
    };

    /// <summary>ggml's name of the type ("q4_K", "bf16"), or "type N" for an unknown number.</summary>
    public static string Name(uint type) => Traits(type) is null ? $"type {type}" : ((GgmlType)type) switch
    {
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K =>
            ((GgmlType)type).ToString().ToLowerInvariant()[..^1] + "K",
        var t => t.ToString().ToLowerInvariant(),
    };

    /// <summary>The Tessera dtype that holds a ggml type byte for byte, or null.</summary>
    public static DType? ToDType(uint type) => (GgmlType)type switch
    {
        GgmlType.F32 => DType.F32,
        GgmlType.F16 => DType.F16,
        GgmlType.BF16 => DType.BF16,
        GgmlType.I8 => DType.I8,
        GgmlType.I32 => DType.I32,
        GgmlType.I64 => DType.I64,
        GgmlType.Q8_0 => DType.Q8_0,
        GgmlType.Q4_0 => DType.Q4_0,
        GgmlType.Q4_1 => DType.Q4_1,
        GgmlType.Q4_K => DType.Q4_K,
        GgmlType.Q6_K => DType.Q6_K,
        GgmlType.Q8_K => DType.Q8_K,
        _ => null,
    };

    /// <summary>The ggml type of a Tessera dtype; U8 has none.</summary>
    public static GgmlType FromDType(DType t) => t switch
    {
        DType.F32 => GgmlType.F32,
        DType.F16 => GgmlType.F16,
        DType.BF16 => GgmlType.BF16,
        DType.I8 => GgmlType.I8,
        DType.I32 => GgmlType.I32,
        DType.I64 => GgmlType.I64,
        DType.Q8_0 => GgmlType.Q8_0,
        DType.Q4_0 => GgmlType.Q4_0,
        DType.Q4_1 => GgmlType.Q4_1,
        DType.Q4_K => GgmlType.Q4_K,
        DType.Q6_K => GgmlType.Q6_K,
        DType.Q8_K => GgmlType.Q8_K,
        _ => throw new TesseraException($"GGUF has no tensor type for {t.Name()}"),
    };
}
