using System.Diagnostics.CodeAnalysis;
using static Tessera.Cuda.CudaDriver;

namespace Tessera.Cuda;

/// <summary>The CUDA backend: one device's primary context, one stream that every op of this backend is queued
/// on in order, and the kernels compiled to PTX at build time. Reads from the device (CopyToHost) wait for the
/// stream; everything else is asynchronous. Ops whose kernels do not exist yet throw a TesseraException.</summary>
public sealed unsafe partial class CudaBackend : IBackend
{
    private readonly PrimaryContext _context;
    private readonly CudaStream _stream;
    private readonly KernelLauncher _kernels;
    private int _disposed;

    private CudaBackend(CudaDeviceInfo info, PrimaryContext context, string arch)
    {
        Info = info;
        _context = context;
        _context.MakeCurrent();
        _stream = new CudaStream(context);
        _kernels = new KernelLauncher(context, arch);
    }

    /// <summary>Opens device <paramref name="ordinal"/>, or says why it cannot: "no CUDA driver (libcuda.so.1 not
    /// found)", "no CUDA device", "no CUDA device 3 (2 found)", an unsupported architecture, or a driver error.
    /// Never throws for a missing driver or device.</summary>
    public static bool TryCreate(int ordinal, [NotNullWhen(true)] out CudaBackend? backend, out string whyNot)
    {
        backend = null;
        if (WhyUnavailable is { } why) { whyNot = why; return false; }
        PrimaryContext? ctx = null;
        try
        {
            int count;
            Check(cuDeviceGetCount(&count), "cuDeviceGetCount");
            if (count == 0) { whyNot = "no CUDA device"; return false; }
            if (ordinal < 0 || ordinal >= count) { whyNot = $"no CUDA device {ordinal} ({count} found)"; return false; }
            var info = CudaInfo.Query(ordinal);
            var arch = KernelCatalog.PickArchitecture(info.Major, info.Minor);
            if (arch is null)
            {
                whyNot = $"{info} is older than every embedded PTX target ({string.Join(", ", KernelCatalog.Manifest.Architectures.Select(a => a.Name))})";
                return false;
            }
            int dev;
            Check(cuDeviceGet(&dev, ordinal), "cuDeviceGet");
            ctx = PrimaryContext.Retain(dev);
            backend = new CudaBackend(info, ctx, arch.Name);
            whyNot = "";
            return true;
        }
        catch (TesseraException e)
        {
            ctx?.Dispose();
            whyNot = e.Message;
            return false;
        }
    }

    /// <summary>Opens device <paramref name="ordinal"/> or throws a TesseraException with the reason.</summary>
    public static CudaBackend Create(int ordinal = 0) =>
        TryCreate(ordinal, out var b, out var why) ? b : throw new TesseraException($"cuda:{ordinal}: {why}");

    /// <summary>The device this backend drives.</summary>
    public CudaDeviceInfo Info { get; }

    /// <summary>The PTX architecture loaded for this device ("sm_90").</summary>
    public string KernelArchitecture => _kernels.Architecture;

    /// <inheritdoc/>
    public string Name => "cuda";

    /// <inheritdoc/>
    public Device Device => new(DeviceKind.Cuda, Info.Ordinal);

    /// <inheritdoc/>
    public Storage Allocate(long byteLength)
    {
        Bind();
        if (byteLength < 0) throw new TesseraException($"cannot allocate {byteLength} bytes");
        var mem = new DeviceMemory(_context, byteLength);
        try
        {
            if (byteLength > 0) Check(cuMemsetD8Async(mem.Address, 0, (nuint)byteLength, Stream), "cuMemsetD8Async");
        }
        catch { mem.Dispose(); throw; }
        return new CudaStorage(this, mem, byteLength);
    }

    /// <inheritdoc/>
    public void CopyFromHost(ReadOnlySpan<byte> source, Storage destination, long destinationByteOffset)
    {
        var d = Own(destination);
        CheckRange(source.Length, destinationByteOffset, d);
        if (source.IsEmpty) return;
        Bind();
        // The span is only valid during this call, so wait for the copy before returning.
        fixed (byte* p = source)
            Check(cuMemcpyHtoDAsync_v2(d.DevicePointer + (ulong)destinationByteOffset, p, (nuint)source.Length, Stream), "cuMemcpyHtoDAsync_v2", $"{source.Length} bytes");
        _stream.Synchronize();
    }

    /// <inheritdoc/>
    public void CopyToHost(Storage source, long sourceByteOffset, Span<byte> destination)
    {
        var s = Own(source);
        CheckRange(destination.Length, sourceByteOffset, s);
        if (destination.IsEmpty) return;
        Bind();
        fixed (byte* p = destination)
            Check(cuMemcpyDtoHAsync_v2(p, s.DevicePointer + (ulong)sourceByteOffset, (nuint)destination.Length, Stream), "cuMemcpyDtoHAsync_v2", $"{destination.Length} bytes");
        _stream.Synchronize();
    }

    /// <summary>Copies between storages of two CUDA backends (two devices, or the same one) on this backend's
    /// stream, after the source backend's queued work.</summary>
    public void CopyFromPeer(CudaStorage source, long sourceByteOffset, CudaStorage destination, long destinationByteOffset, long bytes)
    {
        var src = (CudaBackend)source.Backend;
        CheckRange(bytes, sourceByteOffset, source);
        CheckRange(bytes, destinationByteOffset, Own(destination));
        if (bytes == 0) return;
        src.Synchronize();
        Bind();
        Check(cuMemcpyPeerAsync(destination.DevicePointer + (ulong)destinationByteOffset, _context.DangerousGetHandle(),
            source.DevicePointer + (ulong)sourceByteOffset, src._context.DangerousGetHandle(), (nuint)bytes, Stream), "cuMemcpyPeerAsync", $"{bytes} bytes");
    }

    /// <summary>Waits until every op queued on this backend has finished.</summary>
    public void Synchronize()
    {
        Bind();
        _stream.Synchronize();
    }

    /// <summary>Runs <paramref name="work"/> (which queues ops on this backend) between two events and returns the
    /// device time between them in milliseconds; synchronises, so the figure covers the whole work.</summary>
    public double TimeMilliseconds(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Bind();
        using var start = new CudaEvent(_context);
        using var end = new CudaEvent(_context);
        start.Record(_stream);
        work();
        Bind();
        end.Record(_stream);
        end.Synchronize();
        return end.ElapsedSince(start);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { Synchronize(); } catch (CudaException) { /* a failed stream still has to be released */ }
        _kernels.Dispose();
        _stream.Dispose();
        _context.Dispose(); // the context itself goes when the last storage is freed
    }

    /// <inheritdoc/>
    public override string ToString() => $"cuda ({Info}, {KernelArchitecture} PTX)";

    private nint Stream => _stream.DangerousGetHandle();

    private void Bind()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _context.MakeCurrent();
    }

    private CudaStorage Own(Storage s) =>
        s is CudaStorage c && ReferenceEquals(c.Backend, this) ? c
            : throw new TesseraException($"the {Device} backend cannot use {s.Backend.Name} memory of {s.Backend.Device}; move the tensor with ToBackend");

    private static void CheckRange(long bytes, long offset, Storage s)
    {
        if (s.IsFreed) throw new ObjectDisposedException(nameof(Storage), "the tensor's storage has already been freed");
        if (offset < 0 || bytes < 0 || offset + bytes > s.ByteLength)
            throw new TesseraException($"copy of {bytes} bytes at {offset} overruns storage of {s.ByteLength} bytes");
    }
}
