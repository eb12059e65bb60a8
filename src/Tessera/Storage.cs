using System.Runtime.InteropServices;

namespace Tessera;

/// <summary>A block of memory on one device, shared by every tensor view onto it. It is reference counted:
/// each <see cref="Tensor"/> holds one reference and the memory is freed when the last one is disposed,
/// so a view never outlives its data and device memory is never left to the garbage collector.</summary>
public abstract class Storage
{
    private int _refs = 1;

    /// <summary>Creates storage with one reference, held by its creator.</summary>
    protected Storage(IBackend backend, long byteLength)
    {
        Backend = backend;
        ByteLength = byteLength;
    }

    /// <summary>The backend that owns this memory.</summary>
    public IBackend Backend { get; }

    /// <summary>Size in bytes.</summary>
    public long ByteLength { get; }

    /// <summary>Whether the memory has been released.</summary>
    public bool IsFreed => Volatile.Read(ref _refs) <= 0;

    /// <summary>Whether the contents were declared constant (weights): backends may then keep derived forms of
    /// it, such as GEMM-packed panels, made on first use and freed with the storage.</summary>
    public bool IsConstant { get; private set; }

    /// <summary>Declares the contents constant. Writes made afterwards are not seen by derived forms already made.</summary>
    public void MarkConstant() => IsConstant = true;

    /// <summary>Whether backends may keep derived forms (such as packed copies) of this constant storage; an owner
    /// under a memory budget (a decoder reading its weights in place) turns it off, and backends then derive per call.</summary>
    public bool AllowsDerivedForms { get; private set; } = true;

    /// <summary>Asks backends not to keep derived copies of this storage beside it (see <see cref="AllowsDerivedForms"/>).</summary>
    public void ForbidDerivedForms() => AllowsDerivedForms = false;

    /// <summary>Whether <see cref="ReleaseResidency"/> can drop pages of this storage from the process's resident set
    /// (memory that reads back on demand, such as a mapped weight file on Linux).</summary>
    public virtual bool CanReleaseResidency => false;

    /// <summary>Asks the OS to drop the pages of bytes [<paramref name="byteOffset"/>, + <paramref name="byteLength"/>)
    /// from memory (the whole pages inside the range); the contents stay the same and are read back when touched.
    /// For a backend that keeps a repacked copy which <em>replaces</em> the original, so that resident memory does not
    /// double. Best effort: returns false where nothing was released (not supported, no whole page in the range, or the
    /// OS declined).</summary>
    public virtual bool ReleaseResidency(long byteOffset, long byteLength) => false;

    private Dictionary<object, IDisposable>? _derived;

    /// <summary>A backend's derived form of this (constant) storage for <paramref name="key"/> (which should name
    /// the layout it was made from), made by <paramref name="make"/> on first use and disposed with the storage.</summary>
    public T GetOrAddDerived<T>(object key, Func<T> make) where T : class, IDisposable
    {
        lock (this)
        {
            if (IsFreed) throw new ObjectDisposedException(nameof(Storage), "the tensor's storage has already been freed");
            _derived ??= [];
            if (_derived.TryGetValue(key, out var d)) return (T)d;
            var made = make();
            _derived[key] = made;
            return made;
        }
    }

    internal void AddRef()
    {
        int r;
        do
        {
            r = Volatile.Read(ref _refs);
            if (r <= 0) throw new ObjectDisposedException(nameof(Storage), "the tensor's storage has already been freed");
        } while (Interlocked.CompareExchange(ref _refs, r + 1, r) != r);
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0) return;
        lock (this)
        {
            if (_derived != null) foreach (var d in _derived.Values) d.Dispose();
            _derived = null;
        }
        Free();
    }

    /// <summary>Returns the memory to its device; called once, when the last reference goes.</summary>
    protected abstract void Free();
}

/// <summary>Host memory: owned (64-byte aligned, from the native heap) or borrowed (a memory-mapped
/// weight file, a pinned array) with an owner that is disposed when the storage is freed.</summary>
public sealed unsafe class HostStorage : Storage
{
    private readonly IDisposable? _owner;
    private readonly bool _owned;

    private HostStorage(IBackend backend, void* pointer, long byteLength, bool owned, IDisposable? owner)
        : base(backend, byteLength)
    {
        Pointer = pointer;
        _owned = owned;
        _owner = owner;
    }

    /// <summary>Start of the memory.</summary>
    public void* Pointer { get; }

    /// <summary>Allocates zeroed, 64-byte aligned host memory.</summary>
    public static HostStorage Allocate(IBackend backend, long byteLength) => Allocate(backend, byteLength, zeroed: true);

    /// <summary>Allocates 64-byte aligned host memory, zeroed or with undefined contents. Undefined contents are
    /// filled with 0xFF bytes (NaN in every float dtype) when the AppContext switch
    /// <c>Tessera.PoisonUninitializedMemory</c> is on, as the test projects set it: an op that leaves part of an
    /// output unwritten then fails its tests instead of passing on memory that happened to be zero.</summary>
    public static HostStorage Allocate(IBackend backend, long byteLength, bool zeroed)
    {
        if (byteLength < 0) throw new TesseraException($"cannot allocate {byteLength} bytes");
        void* p;
        try { p = NativeMemory.AlignedAlloc((nuint)Math.Max(byteLength, 1), 64); }
        catch (OutOfMemoryException e) { throw new TesseraException($"out of host memory allocating {byteLength} bytes", e); }
        if (zeroed) NativeMemory.Clear(p, (nuint)byteLength);
        else if (PoisonUninitialized) NativeMemory.Fill(p, (nuint)byteLength, 0xFF);
        return new HostStorage(backend, p, byteLength, owned: true, owner: null);
    }

    private static readonly bool PoisonUninitialized =
        AppContext.TryGetSwitch("Tessera.PoisonUninitializedMemory", out bool on) && on;

    /// <summary>Wraps memory that someone else owns; <paramref name="owner"/> (may be null) is disposed when
    /// the last tensor onto it is. An owner that is an <see cref="IReleasableMemory"/> (a mapped file) lets the
    /// storage release residency (<see cref="Storage.ReleaseResidency"/>).</summary>
    public static HostStorage Borrow(IBackend backend, void* pointer, long byteLength, IDisposable? owner) =>
        new(backend, pointer, byteLength, owned: false, owner);

    /// <inheritdoc/>
    public override bool CanReleaseResidency => _owner is IReleasableMemory r && r.CanRelease;

    /// <inheritdoc/>
    public override bool ReleaseResidency(long byteOffset, long byteLength)
    {
        if (byteOffset < 0 || byteLength < 0 || byteOffset > ByteLength - byteLength)
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"bytes [{byteOffset}, +{byteLength}) are outside a storage of {ByteLength} bytes");
        return !IsFreed && _owner is IReleasableMemory r && r.CanRelease && r.Release((byte*)Pointer + byteOffset, byteLength);
    }

    /// <summary>Pins a managed array and wraps it; the pin is released when the storage is freed.</summary>
    public static HostStorage Pin<T>(IBackend backend, T[] array) where T : unmanaged
    {
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        return new HostStorage(backend, (void*)handle.AddrOfPinnedObject(), (long)array.Length * sizeof(T), owned: false, new PinOwner(handle));
    }

    /// <inheritdoc/>
    protected override void Free()
    {
        if (_owned) NativeMemory.AlignedFree(Pointer);
        _owner?.Dispose();
    }

    private sealed class PinOwner(GCHandle handle) : IDisposable
    {
        public void Dispose() { if (handle.IsAllocated) handle.Free(); }
    }
}

/// <summary>The owner of borrowed host memory whose pages can leave the resident set and read back unchanged when
/// touched (a file mapping): what <see cref="HostStorage.ReleaseResidency"/> asks.</summary>
public unsafe interface IReleasableMemory
{
    /// <summary>Whether <see cref="Release"/> can work here (the OS supports it).</summary>
    bool CanRelease { get; }

    /// <summary>Drops the whole pages inside [<paramref name="start"/>, + <paramref name="length"/>) from memory, best
    /// effort; false where nothing was released.</summary>
    bool Release(void* start, long length);
}
