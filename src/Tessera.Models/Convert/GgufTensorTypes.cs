using Tessera.Formats.Gguf;
using Tessera.Quant;

namespace Tessera.Models.Conversion;

/// <summary>Which ggml type each tensor gets, as llama.cpp's converter and quantizer decide (<c>llama_tensor_get_type</c>):
/// 1-D tensors (norms, biases, RoPE divisors) stay f32; 2-D weights take the requested type; with 4-bit types the output
/// projection (the token embedding when it is tied) takes Q6_K; a weight whose rows are not a whole number of blocks
/// falls back (Q4_K to Q8_0 where llama.cpp picks Q5_0, which Tessera does not read; the 32-blocks to f16).</summary>
public static class GgufTensorTypes
{
    /// <summary>The type of tensor <paramref name="ggufName"/> [dims, outermost first] in a file of type <paramref name="type"/>;
    /// <paramref name="hasOutput"/> says whether the file has its own output.weight; <paramref name="outputType"/> and
    /// <paramref name="embeddingType"/> force the output projection's and the token embedding's types (they still fall
    /// back when their rows are not whole blocks).</summary>
    public static GgmlType For(string ggufName, IReadOnlyList<long> dims, GgufOutputType type, bool hasOutput, GgmlType? outputType = null, GgmlType? embeddingType = null)
    {
        if (dims.Count != 2) return GgmlType.F32;
        long inner = dims[^1];
        bool output = ggufName == "output.weight" || !hasOutput && ggufName == "token_embd.weight";
        var forced = output ? outputType : ggufName == "token_embd.weight" ? embeddingType : null;
        var wanted = forced ?? type switch
        {
            GgufOutputType.F32 => GgmlType.F32,
            GgufOutputType.F16 => GgmlType.F16,
            GgufOutputType.Q8_0 => GgmlType.Q8_0,
            GgufOutputType.Q4_0 => output ? GgmlType.Q6_K : GgmlType.Q4_0,
            _ => output ? GgmlType.Q6_K : GgmlType.Q4_K,
        };
        if (GgmlTypes.ToDType((uint)wanted) is not { } dt || !BlockQuant.CanQuantize(dt))
            throw new TesseraException($"convert: cannot write {GgmlTypes.Name((uint)wanted)} tensors");
        return Fits(wanted, inner) ? wanted
            : wanted is GgmlType.Q4_K or GgmlType.Q6_K or GgmlType.Q8_K && Fits(GgmlType.Q8_0, inner) ? GgmlType.Q8_0
            : GgmlType.F16;
    }

    /// <summary>llama.cpp's <c>general.file_type</c> (llama_ftype) of a file converted to <paramref name="type"/>.</summary>
    public static uint FileType(GgufOutputType type) => type switch
    {
        GgufOutputType.F32 => 0,
        GgufOutputType.F16 => 1,
        GgufOutputType.Q4_0 => 2,
        GgufOutputType.Q8_0 => 7,
        _ => 14, // MOSTLY_Q4_K_S
    };

    private static bool Fits(GgmlType t, long inner) => inner % GgmlTypes.Traits((uint)t)!.Value.BlockSize == 0;
}
