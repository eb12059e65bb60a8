namespace Tessera;

// Picking entries by index: index-select along any axis, and top-k / argsort along the last axis (sampling,
// detection post-processing).
public sealed partial class Tensor
{
    /// <summary>The entries of <paramref name="axis"/> named by <paramref name="ids"/> (1-D I32 or I64), in that
    /// order (torch.index_select): the result has this tensor's shape with ids.Length on that axis. An id outside
    /// [0, size) is an error naming it for host tensors; a GPU backend clamps it into range instead (checking would
    /// cost a synchronisation).</summary>
    public Tensor IndexSelect(int axis, Tensor ids)
    {
        ThrowIfDisposed();
        SameBackend("index_select", ids);
        if (DType.IsBlock())
            throw new TesseraException($"index_select of a {DType.Name()} tensor {Shape}: block-quantized data has no per-element addressing (use Gather for whole rows)");
        if (Rank == 0) throw new TesseraException("index_select of a scalar tensor");
        int a = Shape.Axis(axis);
        if (ids.Rank != 1 || ids.DType is not (DType.I32 or DType.I64))
            throw new TesseraException($"index_select: ids must be a 1-D i32 or i64 tensor, got {ids.DType.Name()} {ids.Shape}");
        if (ids.Device.Kind == DeviceKind.Cpu) CheckIds("index_select", ids, Shape[a], $"axis {a} of {Shape}");
        var dst = NewLike(Shape.With(a, ids.Shape[0]));
        Backend.IndexSelect(this, ids, a, dst);
        return dst;
    }

    // Every id in [0, size), else an error naming the first one that is not.
    private static void CheckIds(string op, Tensor ids, int size, string what)
    {
        if (ids.DType == DType.I32)
        {
            var v = ids.ToArray<int>();
            for (int i = 0; i < v.Length; i++)
                if ((uint)v[i] >= (uint)size) throw new TesseraException($"{op}: id {v[i]} at position {i} is out of range for {what} (size {size})");
        }
        else
        {
            var v = ids.ToArray<long>();
            for (int i = 0; i < v.Length; i++)
                if ((ulong)v[i] >= (ulong)size) throw new TesseraException($"{op}: id {v[i]} at position {i} is out of range for {what} (size {size})");
        }
    }

    /// <summary>The <paramref name="k"/> largest (or smallest) entries of each last-axis row, sorted (largest first
    /// when <paramref name="largest"/>), and their indices along that axis as I32; ties go to the lower index first
    /// (ONNX TopK), and NaN ranks above every number (first when largest, last otherwise).</summary>
    public (Tensor Values, Tensor Indices) TopK(int k, bool largest = true)
    {
        ThrowIfDisposed();
        if (Rank == 0 || DType.IsBlock())
            throw new TesseraException($"top_k needs a tensor of rank 1 or more with a plain element dtype, got {DType.Name()} {Shape}");
        int n = Shape[-1];
        if (k < 0 || k > n) throw new TesseraException($"top_k: k = {k} is outside [0, {n}] for {Shape}");
        var shape = Shape.With(-1, k);
        var values = NewLike(shape);
        Tensor? indices = null;
        try
        {
            indices = NewLike(shape, DType.I32);
            Backend.TopK(this, k, largest, values, indices);
            return (values, indices);
        }
        catch
        {
            values.Dispose();
            indices?.Dispose();
            throw;
        }
    }

    /// <summary>The I32 indices that sort each last-axis row (ascending unless <paramref name="descending"/>); equal
    /// values keep their order (a stable sort), NaN sorts as the largest value.</summary>
    public Tensor Argsort(bool descending = false)
    {
        ThrowIfDisposed();
        if (Rank == 0) throw new TesseraException("argsort of a scalar tensor");
        var (values, indices) = TopK(Shape[-1], largest: descending);
        values.Dispose();
        return indices;
    }
}
