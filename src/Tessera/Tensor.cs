using System.Runtime.InteropServices;

namespace Tessera;

/// <summary>An n-dimensional view onto a <see cref="Storage"/>: dtype, shape, strides and offset in elements.
/// Views (reshape, permute, narrow, broadcast) share storage without copying; <see cref="Contiguous"/>
/// copies when a view is not row-major. Dispose every tensor you make (or make it inside a
/// <see cref="TensorScope"/>): the storage is freed when its last view is disposed.</summary>
public sealed partial class Tensor : IDisposable
{
    private readonly long[] _strides;
    private int _disposed;

    internal Tensor(Storage storage, DType dtype, Shape shape, long[] strides, long offset, bool addRef)
    {
        if (strides.Length != shape.Rank) throw new TesseraException($"{strides.Length} strides for shape {shape}");
        if (addRef) storage.AddRef();
        Storage = storage;
        DType = dtype;
        Shape = shape;
        _strides = strides;
        Offset = offset;
        TensorScope.Track(this);
    }

    /// <summary>The memory this view reads.</summary>
    public Storage Storage { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Dimensions.</summary>
    public Shape Shape { get; }

    /// <summary>Strides in elements, one per dimension (0 for a broadcast dimension).</summary>
    public ReadOnlySpan<long> Strides => _strides;

    /// <summary>Offset of the first element, in elements from the start of the storage.</summary>
    public long Offset { get; }

    /// <summary>The backend that owns the storage.</summary>
    public IBackend Backend => Storage.Backend;

    /// <summary>The device the data lives on.</summary>
    public Device Device => Storage.Backend.Device;

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Rank;

    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.ElementCount;

    /// <summary>Size of dimension <paramref name="axis"/> (negative counts from the end).</summary>
    public int Dim(int axis) => Shape[axis];

    /// <summary>Whether elements are laid out row-major with no gaps (size-1 dimensions may have any stride).</summary>
    public bool IsContiguous
    {
        get
        {
            if (ElementCount == 0) return true;
            long expect = 1;
            for (int i = Rank - 1; i >= 0; i--)
            {
                int d = Shape.Dims[i];
                if (d != 1 && _strides[i] != expect) return false;
                expect *= d;
            }
            return true;
        }
    }

    /// <summary>Whether <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Allocates a zeroed contiguous tensor on a backend.</summary>
    public static Tensor Zeros(IBackend backend, DType dtype, Shape shape) => Allocate(backend, dtype, shape, zeroed: true);

    /// <summary>Allocates a contiguous tensor whose contents are undefined (as torch.empty): for a result about to
    /// be written entirely, without the cost of zeroing it first.</summary>
    public static Tensor Empty(IBackend backend, DType dtype, Shape shape) => Allocate(backend, dtype, shape, zeroed: false);

    private static Tensor Allocate(IBackend backend, DType dtype, Shape shape, bool zeroed)
    {
        long bytes;
        try { bytes = dtype.ByteCount(shape.ElementCount); }
        catch (TesseraException e) { throw new TesseraException($"cannot allocate a {dtype.Name()} tensor of shape {shape}: {e.Message}", e); }
        var storage = zeroed ? backend.Allocate(bytes) : backend.AllocateUninitialized(bytes);
        return new Tensor(storage, dtype, shape, shape.ContiguousStrides(), 0, addRef: false);
    }

    /// <summary>A contiguous tensor filled with a value.</summary>
    public static Tensor Full(IBackend backend, DType dtype, Shape shape, double value)
    {
        var t = Empty(backend, dtype, shape);
        backend.Fill(t, value);
        return t;
    }

    /// <summary>Copies host data into a new tensor on a backend.</summary>
    public static Tensor FromSpan<T>(IBackend backend, ReadOnlySpan<T> data, Shape shape) where T : unmanaged
    {
        if (data.Length != shape.ElementCount)
            throw new TesseraException($"{data.Length} values of {typeof(T).Name} do not fill shape {shape} ({shape.ElementCount} elements)");
        var t = Empty(backend, DTypeInfo.Of<T>(), shape);
        backend.CopyFromHost(MemoryMarshal.AsBytes(data), t.Storage, 0);
        return t;
    }

    /// <summary>Copies host data into a new tensor on a backend.</summary>
    public static Tensor FromArray<T>(IBackend backend, T[] data, params int[] shape) where T : unmanaged =>
        FromSpan<T>(backend, data, new Shape(shape));

    /// <summary>Wraps existing storage (for example a memory-mapped weight) as a contiguous tensor.
    /// The tensor takes a reference to the storage; the caller keeps its own.</summary>
    public static Tensor FromStorage(Storage storage, DType dtype, Shape shape, long offsetElements = 0)
    {
        long end = dtype.ByteCount(checked(offsetElements + shape.ElementCount));
        if (end > storage.ByteLength)
            throw new TesseraException($"a {dtype.Name()} tensor of shape {shape} at element {offsetElements} needs {end} bytes, the storage has {storage.ByteLength}");
        return new Tensor(storage, dtype, shape, shape.ContiguousStrides(), offsetElements, addRef: true);
    }

    /// <summary>Copies the elements, in row-major order, to a new host array.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        if (DTypeInfo.Of<T>() != DType)
            throw new TesseraException($"ToArray<{typeof(T).Name}> on a {DType.Name()} tensor of shape {Shape}; convert with To() first");
        using var c = Contiguous();
        var result = new T[c.ElementCount];
        c.Backend.CopyToHost(c.Storage, c.DType.ByteCount(c.Offset), MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    /// <summary>Converts to f32 (if needed) and copies to a host array.</summary>
    public float[] ToFloatArray()
    {
        if (DType == DType.F32) return ToArray<float>();
        using var f = To(DType.F32);
        return f.ToArray<float>();
    }

    /// <summary>Releases this view's reference to the storage.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Storage.Release();
    }

    internal void ThrowIfDisposed()
    {
        if (IsDisposed) throw new ObjectDisposedException(nameof(Tensor), $"{DType.Name()} tensor of shape {Shape} was disposed");
    }

    /// <summary>"Tensor(f32 [2, 3] cpu)".</summary>
    public override string ToString() => $"Tensor({DType.Name()} {Shape} {Device})";
}
