namespace Tessera;

// Views: new shapes and strides onto the same storage, never a copy (except Reshape of a
// non-contiguous tensor and Contiguous, which say so).
public sealed partial class Tensor
{
    private Tensor View(Shape shape, long[] strides, long offset)
    {
        ThrowIfDisposed();
        return new Tensor(Storage, DType, shape, strides, offset, addRef: true);
    }

    /// <summary>A new shape with the same element count; one dimension may be -1. A view when the tensor is
    /// contiguous, otherwise a contiguous copy.</summary>
    public Tensor Reshape(params int[] dims)
    {
        var d = (int[])dims.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < d.Length; i++)
        {
            if (d[i] == -1)
            {
                if (infer >= 0) throw new TesseraException($"reshape {Shape} to [{string.Join(", ", dims)}]: more than one -1");
                infer = i;
            }
            else if (d[i] < 0) throw new TesseraException($"reshape {Shape} to [{string.Join(", ", dims)}]: negative dimension");
            else known *= d[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || ElementCount % known != 0)
                throw new TesseraException($"reshape {Shape} to [{string.Join(", ", dims)}]: {ElementCount} elements do not divide by {known}");
            d[infer] = checked((int)(ElementCount / known));
        }
        var shape = new Shape(d);
        if (shape.ElementCount != ElementCount)
            throw new TesseraException($"reshape {Shape} ({ElementCount} elements) to {shape} ({shape.ElementCount} elements)");
        if (IsContiguous) return View(shape, shape.ContiguousStrides(), Offset);
        if (DType.IsBlock()) throw new TesseraException($"reshape of a non-contiguous {DType.Name()} tensor {Shape}");
        using var c = Contiguous();
        return c.View(shape, shape.ContiguousStrides(), c.Offset);
    }

    /// <summary>Reorders the axes: result axis i is this tensor's axis <c>axes[i]</c>.</summary>
    public Tensor Permute(params int[] axes)
    {
        if (axes.Length != Rank) throw new TesseraException($"permute of {Shape} needs {Rank} axes, got [{string.Join(", ", axes)}]");
        var seen = new bool[Rank];
        var dims = new int[Rank];
        var strides = new long[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int a = Shape.Axis(axes[i]);
            if (seen[a]) throw new TesseraException($"permute of {Shape}: axis {a} named twice in [{string.Join(", ", axes)}]");
            seen[a] = true;
            dims[i] = Shape.Dims[a];
            strides[i] = _strides[a];
        }
        RequireElementViews("permute", axes.Length > 0 && Shape.Axis(axes[^1]) != Rank - 1);
        return View(new Shape(dims), strides, Offset);
    }

    /// <summary>Swaps two axes.</summary>
    public Tensor Transpose(int axis0, int axis1)
    {
        var p = Enumerable.Range(0, Rank).ToArray();
        int a = Shape.Axis(axis0), b = Shape.Axis(axis1);
        (p[a], p[b]) = (p[b], p[a]);
        return Permute(p);
    }

    /// <summary>Swaps the last two axes (the matrix transpose of every batch entry).</summary>
    public Tensor T => Rank < 2 ? throw new TesseraException($"T needs rank 2 or more, got {Shape}") : Transpose(-2, -1);

    /// <summary><paramref name="length"/> entries of <paramref name="axis"/> starting at <paramref name="start"/>.</summary>
    public Tensor Narrow(int axis, int start, int length)
    {
        int a = Shape.Axis(axis);
        if (start < 0 || length < 0 || (long)start + length > Shape.Dims[a])
            throw new TesseraException($"narrow axis {axis} of {Shape} to [{start}, {(long)start + length}): out of range");
        RequireElementViews("narrow", a == Rank - 1 && (start % DType.BlockSize() != 0 || length % DType.BlockSize() != 0));
        return View(Shape.With(a, length), (long[])_strides.Clone(), Offset + start * _strides[a]);
    }

    /// <summary>Python-style slice start:end:step of one axis (negative start and end count from the end).</summary>
    public Tensor Slice(int axis, int start, int end, int step = 1)
    {
        int a = Shape.Axis(axis);
        int n = Shape.Dims[a];
        if (step <= 0) throw new TesseraException($"slice of {Shape}: step must be positive, got {step}");
        if (start < 0) start += n;
        if (end < 0) end += n;
        start = Math.Clamp(start, 0, n);
        end = Math.Clamp(end, start, n);
        int len = (end - start + step - 1) / step;
        RequireElementViews("slice", a == Rank - 1);
        var strides = (long[])_strides.Clone();
        strides[a] *= step;
        return View(Shape.With(a, len), strides, Offset + start * _strides[a]);
    }

    /// <summary>Selects one index of an axis, removing it.</summary>
    public Tensor Select(int axis, int index)
    {
        using var n = Narrow(axis, index, 1);
        return n.Squeeze(axis);
    }

    /// <summary>Splits an axis into pieces of the given sizes (views).</summary>
    public Tensor[] Split(int axis, params int[] sizes)
    {
        int a = Shape.Axis(axis);
        if (sizes.Sum() != Shape.Dims[a])
            throw new TesseraException($"split axis {axis} of {Shape} into [{string.Join(", ", sizes)}]: sizes must sum to {Shape.Dims[a]}");
        var parts = new Tensor[sizes.Length];
        int at = 0;
        for (int i = 0; i < sizes.Length; i++) { parts[i] = Narrow(a, at, sizes[i]); at += sizes[i]; }
        return parts;
    }

    /// <summary>Splits an axis into <paramref name="chunks"/> equal pieces (views).</summary>
    public Tensor[] Chunk(int chunks, int axis)
    {
        int n = Shape[axis];
        if (chunks <= 0 || n % chunks != 0) throw new TesseraException($"chunk axis {axis} of {Shape} into {chunks} equal parts");
        return Split(axis, Enumerable.Repeat(n / chunks, chunks).ToArray());
    }

    /// <summary>Inserts a size-1 axis.</summary>
    public Tensor Unsqueeze(int axis)
    {
        int a = axis < 0 ? axis + Rank + 1 : axis;
        if (a < 0 || a > Rank) throw new TesseraException($"unsqueeze axis {axis} of {Shape}");
        var dims = Shape.Dims.ToArray().ToList();
        var strides = _strides.ToList();
        dims.Insert(a, 1);
        strides.Insert(a, a < Rank ? _strides[a] * Shape.Dims[a] : 1);
        return View(new Shape(dims.ToArray()), strides.ToArray(), Offset);
    }

    /// <summary>Removes a size-1 axis.</summary>
    public Tensor Squeeze(int axis)
    {
        int a = Shape.Axis(axis);
        if (Shape.Dims[a] != 1) throw new TesseraException($"squeeze axis {axis} of {Shape}: size is {Shape.Dims[a]}, not 1");
        var dims = Shape.Dims.ToArray().ToList();
        var strides = _strides.ToList();
        dims.RemoveAt(a);
        strides.RemoveAt(a);
        return View(new Shape(dims.ToArray()), strides.ToArray(), Offset);
    }

    /// <summary>A stride-0 view repeating size-1 (or missing leading) axes to a larger shape.</summary>
    public Tensor BroadcastTo(Shape shape)
    {
        if (shape.Rank < Rank) throw new TesseraException($"cannot broadcast {Shape} to the smaller rank {shape}");
        var strides = new long[shape.Rank];
        int lead = shape.Rank - Rank;
        for (int i = 0; i < shape.Rank; i++)
        {
            if (i < lead) { strides[i] = 0; continue; }
            int d = Shape.Dims[i - lead];
            if (d == shape[i]) strides[i] = _strides[i - lead];
            else if (d == 1) strides[i] = 0;
            else throw new TesseraException($"cannot broadcast {Shape} to {shape} (dimension {i}: {d} vs {shape[i]})");
        }
        RequireElementViews("broadcast", !Shape.Equals(shape));
        return View(shape, strides, Offset);
    }

    /// <summary>Merges axes <paramref name="start"/>..<paramref name="end"/> (inclusive) into one.</summary>
    public Tensor Flatten(int start = 0, int end = -1)
    {
        int s = Shape.Axis(start), e = Shape.Axis(end);
        var dims = new List<int>();
        for (int i = 0; i < s; i++) dims.Add(Shape.Dims[i]);
        int merged = 1;
        for (int i = s; i <= e; i++) merged = checked(merged * Shape.Dims[i]);
        dims.Add(merged);
        for (int i = e + 1; i < Rank; i++) dims.Add(Shape.Dims[i]);
        return Reshape(dims.ToArray());
    }

    /// <summary>Declares this tensor's storage constant (a weight) and returns another reference to it. Backends may
    /// then keep a derived form beside it: the CPU backend packs a constant right-hand matmul operand into its
    /// micro-kernel panels once (f32, so a bf16 weight's packed copy is twice its size), as MLAS does for ONNX
    /// Runtime's constant initializers. Every view of the storage shares the packed forms.</summary>
    public Tensor AsConstant()
    {
        ThrowIfDisposed();
        Storage.MarkConstant();
        return Share();
    }

    /// <summary>Another reference to the same view (dispose it separately).</summary>
    public Tensor Share() => View(Shape, (long[])_strides.Clone(), Offset);

    /// <summary>This tensor if already row-major (as a new reference), otherwise a row-major copy.</summary>
    public Tensor Contiguous()
    {
        ThrowIfDisposed();
        if (IsContiguous) return Share();
        RequireElementViews("contiguous", true);
        var dst = Empty(Backend, DType, Shape);
        Backend.Copy(this, dst);
        return dst;
    }

    /// <summary>A copy converted to another dtype (a new reference when the dtype already matches).</summary>
    public Tensor To(DType dtype)
    {
        ThrowIfDisposed();
        if (dtype == DType) return Share();
        var dst = Empty(Backend, dtype, Shape);
        Backend.Copy(this, dst);
        return dst;
    }

    /// <summary>Moves a copy to another backend (for example CPU to CUDA); the dtype is kept.</summary>
    public Tensor ToBackend(IBackend backend)
    {
        ThrowIfDisposed();
        if (ReferenceEquals(backend, Backend)) return Share();
        using var c = Contiguous();
        long bytes = DType.ByteCount(ElementCount);
        var host = new byte[bytes];
        c.Backend.CopyToHost(c.Storage, DType.ByteCount(c.Offset), host);
        var dst = Empty(backend, DType, Shape);
        backend.CopyFromHost(host, dst.Storage, 0);
        return dst;
    }

    private void RequireElementViews(string what, bool touchesBlocks)
    {
        if (touchesBlocks && DType.IsBlock())
            throw new TesseraException($"{what} of a {DType.Name()} tensor {Shape}: block-quantized data cannot be viewed inside its rows");
    }
}
