using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tessera.Cpu;

/// <summary>The managed SIMD backend: host memory, Vector512/256 kernels, work split over
/// <see cref="Threads"/> cores. NativeAOT-safe. Each op family lives in its own partial file.</summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    /// <summary>A shared instance using every core.</summary>
    public static CpuBackend Default { get; } = new();

    /// <summary>Creates a backend.</summary>
    public CpuBackend(CpuBackendOptions? options = null)
    {
        Options = options ?? new CpuBackendOptions();
        Threads = Options.EffectiveThreads;
        CpuParallel.AddUser();
    }

    /// <summary>The options this backend was made with.</summary>
    public CpuBackendOptions Options { get; }

    /// <summary>Worker threads one op may use.</summary>
    public int Threads { get; }

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <inheritdoc/>
    public Device Device => Device.Cpu;

    /// <inheritdoc/>
    public Storage Allocate(long byteLength) => HostStorage.Allocate(this, byteLength);

    /// <inheritdoc/>
    public Storage AllocateUninitialized(long byteLength) => HostStorage.Allocate(this, byteLength, zeroed: false);

    /// <inheritdoc/>
    public void CopyFromHost(ReadOnlySpan<byte> source, Storage destination, long destinationByteOffset)
    {
        var h = Host(destination);
        if (destinationByteOffset < 0 || destinationByteOffset + source.Length > h.ByteLength)
            throw new TesseraException($"copy of {source.Length} bytes at {destinationByteOffset} overruns storage of {h.ByteLength} bytes");
        source.CopyTo(new Span<byte>((byte*)h.Pointer + destinationByteOffset, source.Length));
    }

    /// <inheritdoc/>
    public void CopyToHost(Storage source, long sourceByteOffset, Span<byte> destination)
    {
        var h = Host(source);
        if (sourceByteOffset < 0 || sourceByteOffset + destination.Length > h.ByteLength)
            throw new TesseraException($"copy of {destination.Length} bytes at {sourceByteOffset} overruns storage of {h.ByteLength} bytes");
        new ReadOnlySpan<byte>((byte*)h.Pointer + sourceByteOffset, destination.Length).CopyTo(destination);
    }

    private int _disposed;

    /// <summary>Releases this backend's claim on the shared worker threads (they exit when no backend is left).
    /// Tensors it made stay readable: host memory belongs to their storage.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) CpuParallel.RemoveUser();
    }

    /// <inheritdoc/>
    public override string ToString() => $"cpu ({Threads} threads, {SimdInfo.Level})";

    private HostStorage Host(Storage s) =>
        s as HostStorage ?? throw new TesseraException($"the cpu backend cannot read {s.Backend.Name} memory; move the tensor with ToBackend");

    /// <summary>Address of a tensor's first element.</summary>
    internal static byte* Ptr(Tensor t)
    {
        if (t.Storage is not HostStorage h) throw new TesseraException($"{t} is not in host memory");
        if (t.Storage.IsFreed) throw new ObjectDisposedException(nameof(Tensor), $"{t}'s storage was freed");
        return (byte*)h.Pointer + t.DType.ByteCount(t.Offset - t.Offset % t.DType.BlockSize());
    }

    /// <summary>Typed address of a tensor's first element.</summary>
    internal static T* Ptr<T>(Tensor t) where T : unmanaged => (T*)Ptr(t);

    /// <summary>A contiguous f32 copy of any float tensor (a new reference when it already is one); the
    /// fallback through which ops accept f16 and bf16 inputs.</summary>
    internal static Tensor AsF32(Tensor t)
    {
        if (t.DType == DType.F32 && t.IsContiguous) return t.Share();
        if (t.DType == DType.F32) return t.Contiguous();
        return t.To(DType.F32).Contiguous();
    }

    /// <summary>Runs an f32 op on f16/bf16 tensors: the op writes an f32 result that is then converted into dst.</summary>
    internal void ViaF32(Tensor dst, Action<Tensor> computeF32)
    {
        if (dst.DType == DType.F32) { computeF32(dst); return; }
        using var tmp = Tensor.Zeros(this, DType.F32, dst.Shape);
        computeF32(tmp);
        Copy(tmp, dst);
    }

    private static void Check(bool ok, string message)
    {
        if (!ok) throw new TesseraException(message);
    }

    // An interpolated message is formatted only when the check fails (ops run per token: no garbage when all is well).
    private static void Check(bool ok, [InterpolatedStringHandlerArgument(nameof(ok))] ref CheckMessage message)
    {
        if (!ok) throw new TesseraException(message.ToStringAndClear());
    }

    private static Span<T> Span<T>(Tensor t) where T : unmanaged => new(Ptr(t), checked((int)t.ElementCount));

    internal static int ElementSize(DType t) => t.IsBlock() ? throw new TesseraException($"{t.Name()} has no per-element size") : t.BlockBytes();

    internal static void Free(void* p) => NativeMemory.AlignedFree(p);
}
