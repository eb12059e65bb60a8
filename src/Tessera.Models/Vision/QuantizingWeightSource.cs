using Tessera.Formats;
using Tessera.Quant;

namespace Tessera.Models.Vision;

/// <summary>A weight source that hands out linear-layer weights quantized to a block type (Q8_0 by default) while every
/// other tensor passes through as stored: the model code asks for its weights as usual and gets the quantized ones, so
/// each <c>Linear</c> runs through the quantized matmul. A tensor counts as a linear weight when it is a 2-D float
/// tensor whose name ends in "weight" (<c>q_proj.weight</c>, <c>in_proj_weight</c>), whose name does not say it is an
/// embedding table (those are gathered, not multiplied), and whose input width is a whole number of blocks.
/// Quantization uses ggml's reference quantizer, row blocks in parallel.</summary>
public sealed class QuantizingWeightSource : IWeightSource
{
    private readonly IWeightSource _inner;

    /// <summary>The block type linear weights are quantized to.</summary>
    public DType Target { get; }

    /// <summary>Wraps <paramref name="inner"/> (and disposes it).</summary>
    public QuantizingWeightSource(IWeightSource inner, DType target)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (!target.IsBlock() || !BlockQuant.CanQuantize(target))
            throw new TesseraException($"quantizing weight source: {target.Name()} is not a block type the reference quantizer writes");
        (_inner, Target) = (inner, target);
    }

    /// <inheritdoc/>
    public string Path => _inner.Path;

    /// <inheritdoc/>
    public string Format => _inner.Format;

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _inner.Names;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object> Metadata => _inner.Metadata;

    /// <inheritdoc/>
    public bool Contains(string name) => _inner.Contains(name);

    /// <summary>Whether the stored tensor <paramref name="info"/> is quantized by this source.</summary>
    public bool Quantizes(TensorInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        string name = info.Name;
        return info.DType is { } d && d.IsFloat() && info.Dims.Count == 2 && info.Dims[0] > 0 && info.Dims[1] > 0
            && info.Dims[1] % Target.BlockSize() == 0
            && name.EndsWith("weight", StringComparison.Ordinal)
            && !name.Contains("embedding", StringComparison.OrdinalIgnoreCase);
    }

    /// <inheritdoc/>
    public TensorInfo Info(string name)
    {
        var info = _inner.Info(name);
        return Quantizes(info)
            ? info with { TypeName = $"{Target.Name()} (from {info.TypeName})", DType = Target, ByteLength = Target.ByteCount(info.ElementCount) }
            : info;
    }

    /// <inheritdoc/>
    public Tensor Load(string name, IBackend backend)
    {
        var info = _inner.Info(name);
        var t = _inner.Load(name, backend);
        if (!Quantizes(info)) return t;
        using (t) return Quantize(t, Target);
    }

    /// <summary>Disposes the wrapped source.</summary>
    public void Dispose() => _inner.Dispose();

    // [rows, cols] float -> [rows, cols] block type, rows split over the cores in chunks (the reference quantizer is
    // scalar: ViT-B's 85M weights take seconds on one core).
    private static Tensor Quantize(Tensor t, DType to)
    {
        using var f32 = t.DType == DType.F32 ? t.Contiguous() : t.To(DType.F32);
        var values = f32.ToArray<float>();
        int rows = t.Dim(0), cols = t.Dim(1);
        long rowBytes = to.ByteCount(cols);
        var bytes = new byte[rows * rowBytes];
        const int RowsPerChunk = 64;
        Parallel.For(0, (rows + RowsPerChunk - 1) / RowsPerChunk, c =>
        {
            int r0 = c * RowsPerChunk, n = Math.Min(RowsPerChunk, rows - r0);
            BlockQuant.Quantize(to, values.AsSpan(r0 * cols, n * cols), bytes.AsSpan((int)(r0 * rowBytes), (int)(n * rowBytes)));
        });
        var q = Tensor.Empty(t.Backend, to, t.Shape);
        try
        {
            t.Backend.CopyFromHost(bytes, q.Storage, 0);
            return q;
        }
        catch
        {
            q.Dispose();
            throw;
        }
    }
}
