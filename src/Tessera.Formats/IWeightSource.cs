namespace Tessera.Formats;

/// <summary>Where a tensor lies in a weight file and what it holds.</summary>
/// <param name="Name">The tensor's name as stored (Hugging Face or GGUF naming).</param>
/// <param name="TypeName">The file's own name for the element type ("F32", "BF16", "q4_K", "FLOAT16").</param>
/// <param name="DType">The Tessera dtype, or null when Tessera cannot hold it (F64, I16, ...): such a tensor can be
/// inspected but not loaded.</param>
/// <param name="Dims">Dimensions, outermost first (GGUF's ggml order is reversed on reading).</param>
/// <param name="File">The file holding the data (a shard, for sharded checkpoints).</param>
/// <param name="Offset">Byte offset of the data from the start of <paramref name="File"/>.</param>
/// <param name="ByteLength">Bytes of data.</param>
public sealed record TensorInfo(string Name, string TypeName, DType? DType, IReadOnlyList<long> Dims, string File, long Offset, long ByteLength)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Dims) n *= d; // checked when the file was opened
            return n;
        }
    }

    /// <summary>The dims as a Tessera <see cref="Tessera.Shape"/>; throws when a dimension exceeds int.MaxValue.</summary>
    public Shape ToShape()
    {
        var dims = new int[Dims.Count];
        for (int i = 0; i < dims.Length; i++)
        {
            if (Dims[i] > int.MaxValue)
                throw new WeightFormatException(File, Name, $"dimension {i} is {Dims[i]}, larger than a Tessera shape holds ({int.MaxValue})");
            dims[i] = (int)Dims[i];
        }
        return new Shape(dims);
    }

    /// <summary>"[4096, 11008]".</summary>
    public string DimsText => "[" + string.Join(", ", Dims) + "]";
}

/// <summary>A uniform, lazily loaded name-to-tensor view of a weight file, whatever its format: models ask for
/// tensors by their published names and never see the format. Nothing is read until <see cref="Load"/>; on a CPU
/// backend a loaded tensor is a zero-copy view over the memory-mapped file.</summary>
public interface IWeightSource : IDisposable
{
    /// <summary>The file opened (the index file, for a sharded checkpoint).</summary>
    string Path { get; }

    /// <summary>"safetensors", "safetensors (sharded)", "gguf" or "onnx".</summary>
    string Format { get; }

    /// <summary>Tensor names, in file order.</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>The file's metadata: strings for safetensors' <c>__metadata__</c>, <see cref="Gguf.GgufValue"/> for GGUF,
    /// producer and opset strings for ONNX.</summary>
    IReadOnlyDictionary<string, object> Metadata { get; }

    /// <summary>Whether a tensor of that name exists.</summary>
    bool Contains(string name);

    /// <summary>The tensor's type, shape and location; throws <see cref="KeyNotFoundException"/> naming the file when absent.</summary>
    TensorInfo Info(string name);

    /// <summary>The tensor on <paramref name="backend"/>: zero-copy over the mapping on a CPU backend, copied on any other.
    /// The tensor keeps the mapping alive after this source is disposed; dispose the tensor when done.</summary>
    Tensor Load(string name, IBackend backend);
}
