using Tessera.Formats;

namespace Tessera.Models.Nn;

/// <summary>A lookup table (PyTorch's nn.Embedding): row i of "weight" [vocab, dim] for each id i. The table keeps its
/// stored float dtype (the rows come back in it); a block-quantized table (GGUF's token_embd in Q4_0, ...) is
/// dequantized to f32 at load, since rows cannot be gathered from inside blocks.</summary>
/// <param name="Weight">The table [vocab, dim].</param>
public sealed record Embedding(Tensor Weight)
{
    /// <summary>Rows in the table.</summary>
    public int Vocab => Weight.Dim(0);

    /// <summary>Features per row.</summary>
    public int Dim => Weight.Dim(1);

    /// <summary>Loads "weight" [vocab, dim] (another leaf name for position tables stored as bare tensors).</summary>
    public static Embedding Load(WeightBuilder wb, int vocab, int dim, string weightName = "weight")
    {
        ArgumentNullException.ThrowIfNull(wb);
        var info = wb.Info(weightName);
        var w = info.DType is { } stored && stored.IsBlock() ? wb.GetAs(weightName, DType.F32, vocab, dim) : wb.Get(weightName, vocab, dim);
        return new Embedding(w);
    }

    /// <summary>The rows of ids (i32 or i64, any shape [...]) -> [..., dim]. An id outside [0, vocab) is an error naming
    /// it (checked on the host for CPU tensors; see <see cref="Tensor.Gather"/>).</summary>
    public Tensor Forward(Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Weight.Gather(ids);
    }

    /// <summary>The rows of host ids [ids.Length] -> [ids.Length, dim], each id checked against the table first.</summary>
    public Tensor Forward(ReadOnlySpan<int> ids)
    {
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)Vocab)
                throw new TesseraException($"embedding: id {ids[i]} at position {i} is outside the table's {Vocab} rows (weight {Weight.Shape})");
        using var t = Tensor.FromSpan(Weight.Backend, ids, new Shape(ids.Length));
        return Weight.Gather(t);
    }
}
