namespace Tessera.Models.Conversion;

/// <summary>The weight type of a converted GGUF file, as <c>tessera convert --type</c> names it.</summary>
public enum GgufOutputType
{
    /// <summary>Every tensor f32.</summary>
    F32,
    /// <summary>2-D weights f16 (convert_hf_to_gguf.py's default); 1-D tensors f32.</summary>
    F16,
    /// <summary>2-D weights Q8_0.</summary>
    Q8_0,
    /// <summary>2-D weights Q4_0 (the output projection Q6_K, as llama.cpp's quantizer makes it).</summary>
    Q4_0,
    /// <summary>2-D weights Q4_K (the output projection Q6_K).</summary>
    Q4_K,
}

/// <summary>How <see cref="LlamaGgufConverter"/> converts a checkpoint.</summary>
public sealed record GgufConvertOptions
{
    /// <summary>The weight type (f16 by default, as llama.cpp's converter).</summary>
    public GgufOutputType Type { get; init; } = GgufOutputType.F16;

    /// <summary>The type of the output projection (the token embedding when tied), as llama-quantize's
    /// --output-tensor-type; null: llama.cpp's rule (Q6_K with 4-bit types).</summary>
    public Formats.Gguf.GgmlType? OutputTensorType { get; init; }

    /// <summary>The type of the token embedding, as llama-quantize's --token-embedding-type; null: the file's type (or
    /// the output projection's rule when the embedding is tied).</summary>
    public Formats.Gguf.GgmlType? TokenEmbeddingType { get; init; }

    /// <summary>A llama2.c checkpoint's tokenizer.bin (null: tokenizer.bin beside the checkpoint). Unused for Hugging
    /// Face directories, whose tokenizer.json is read.</summary>
    public string? Tokenizer { get; init; }

    /// <summary>Threads that convert a tensor's rows (0: all cores).</summary>
    public int Threads { get; init; }

    /// <summary>The <c>general.name</c> written (null: the input's file or directory name).</summary>
    public string? Name { get; init; }

    /// <summary>Told after each tensor is converted.</summary>
    public IProgress<ConvertProgress>? Progress { get; init; }

    /// <summary>Parses "f32", "f16", "q8_0", "q4_0", "q4_k" (any case).</summary>
    public static GgufOutputType ParseType(string name) => name.ToLowerInvariant() switch
    {
        "f32" => GgufOutputType.F32,
        "f16" => GgufOutputType.F16,
        "q8_0" => GgufOutputType.Q8_0,
        "q4_0" => GgufOutputType.Q4_0,
        "q4_k" or "q4_k_s" => GgufOutputType.Q4_K,
        _ => throw new TesseraException($"--type must be f32, f16, q8_0, q4_0 or q4_k, not '{name}'"),
    };
}

/// <summary>Where a conversion stands: tensor <see cref="Index"/> of <see cref="Count"/> done, and bytes of tensor
/// data produced so far out of <see cref="TotalBytes"/>.</summary>
public sealed record ConvertProgress(int Index, int Count, string Name, long Bytes, long TotalBytes);

/// <summary>What a conversion wrote: the architecture, the tensors with the ggml type each got, and the sizes.</summary>
public sealed record ConvertResult(string Output, string Architecture, IReadOnlyList<ConvertedTensor> Tensors, long InputBytes, long OutputBytes, int TokenCount);

/// <summary>One tensor of a conversion: its GGUF name, shape (outermost first), type and source name.</summary>
public sealed record ConvertedTensor(string Name, long[] Dims, Formats.Gguf.GgmlType Type, string Source);
