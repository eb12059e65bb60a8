namespace Tessera.Formats.Safetensors;

/// <summary>The dtype names of the safetensors format and their sizes.</summary>
internal static class SafetensorsDTypes
{
    /// <summary>Bytes per element of a safetensors dtype name, or 0 when the name is unknown.</summary>
    public static int ElementSize(string name) => name switch
    {
        "BOOL" or "U8" or "I8" or "F8_E5M2" or "F8_E4M3" or "F8_E8M0" => 1,
        "I16" or "U16" or "F16" or "BF16" => 2,
        "I32" or "U32" or "F32" => 4,
        "I64" or "U64" or "F64" => 8,
        _ => 0,
    };

    /// <summary>The Tessera dtype for a safetensors dtype (BOOL reads as U8 bytes of 0 and 1), or null.</summary>
    public static DType? ToDType(string name) => name switch
    {
        "F32" => DType.F32,
        "F16" => DType.F16,
        "BF16" => DType.BF16,
        "I8" => DType.I8,
        "U8" or "BOOL" => DType.U8,
        "I32" => DType.I32,
        "I64" => DType.I64,
        _ => null,
    };

    /// <summary>The safetensors name of a Tessera dtype; block types have none.</summary>
    public static string FromDType(DType t) => t switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.I8 => "I8",
        DType.U8 => "U8",
        DType.I32 => "I32",
        DType.I64 => "I64",
        _ => throw new TesseraException($"safetensors has no dtype for {t.Name()} (block types are stored in GGUF)"),
    };
}
