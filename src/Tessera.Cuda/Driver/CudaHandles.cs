using System.Runtime.InteropServices;
using static Tessera.Cuda.CudaDriver;

namespace Tessera.Cuda;

/// <summary>A retained primary context of one device. Released (cuDevicePrimaryCtxRelease) when the last handle
/// that depends on it (stream, event, module, memory) is gone, so freeing memory after the backend is disposed
/// still has a live context.</summary>
internal sealed unsafe class PrimaryContext : SafeHandle
{
    private PrimaryContext(int device) : base(0, ownsHandle: true) => Device = device;

    public int Device { get; }

    public override bool IsInvalid => handle == 0;

    public static PrimaryContext Retain(int device)
    {
        var c = new PrimaryContext(device);
        nint ctx;
        Check(cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain", $"on device {device}");
        c.SetHandle(ctx);
        return c;
    }

    /// <summary>Binds the context to the calling thread (driver calls act on the current context).</summary>
    public void MakeCurrent() => Check(cuCtxSetCurrent(handle), "cuCtxSetCurrent");

    protected override bool ReleaseHandle() => cuDevicePrimaryCtxRelease(Device) == 0;
}

/// <summary>A driver object that belongs to a context: keeps the context alive and makes it current to destroy.</summary>
internal abstract unsafe class ContextBoundHandle : SafeHandle
{
    private readonly PrimaryContext _context;

    protected ContextBoundHandle(PrimaryContext context) : base(0, ownsHandle: true)
    {
        bool added = false;
        context.DangerousAddRef(ref added);
        _context = context;
    }

    public PrimaryContext Context => _context;

    public override bool IsInvalid => handle == 0;

    /// <summary>Marks the native object as created (until then disposal destroys nothing).</summary>
    protected void Set(nint value) => SetHandle(value);

    protected abstract int Destroy(nint value);

    protected sealed override bool ReleaseHandle()
    {
        int rc = cuCtxSetCurrent(_context.DangerousGetHandle());
        if (rc == 0) rc = Destroy(handle);
        _context.DangerousRelease();
        return rc == 0;
    }

    /// <summary>A handle that was never created still holds its context reference; drop it.</summary>
    protected override void Dispose(bool disposing)
    {
        if (IsInvalid && !IsClosed) { SetHandleAsInvalid(); _context.DangerousRelease(); }
        base.Dispose(disposing);
    }
}

internal sealed unsafe class CudaStream : ContextBoundHandle
{
    public CudaStream(PrimaryContext context) : base(context)
    {
        nint s;
        Check(cuStreamCreate(&s, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
        Set(s);
    }

    public void Synchronize() => Check(cuStreamSynchronize(handle), "cuStreamSynchronize");

    /// <summary>Makes later work on this stream wait for an event recorded on another stream.</summary>
    public void Wait(CudaEvent e) => Check(cuStreamWaitEvent(handle, e.DangerousGetHandle(), 0), "cuStreamWaitEvent");

    protected override int Destroy(nint value) => cuStreamDestroy_v2(value);
}

internal sealed unsafe class CudaEvent : ContextBoundHandle
{
    public CudaEvent(PrimaryContext context, bool timing = true) : base(context)
    {
        nint e;
        Check(cuEventCreate(&e, timing ? 0u : 2u /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
        Set(e);
    }

    public void Record(CudaStream s) => Check(cuEventRecord(handle, s.DangerousGetHandle()), "cuEventRecord");

    public void Synchronize() => Check(cuEventSynchronize(handle), "cuEventSynchronize");

    /// <summary>Milliseconds from <paramref name="start"/> to this event (both recorded and complete).</summary>
    public float ElapsedSince(CudaEvent start)
    {
        float ms;
        Check(cuEventElapsedTime(&ms, start.DangerousGetHandle(), handle), "cuEventElapsedTime");
        return ms;
    }

    protected override int Destroy(nint value) => cuEventDestroy_v2(value);
}

/// <summary>A loaded PTX module (the driver JIT-compiles it for the device on load).</summary>
internal sealed unsafe class CudaModule : ContextBoundHandle
{
    public CudaModule(PrimaryContext context, byte[] ptxNulTerminated, string what) : base(context)
    {
        const int logSize = 8192;
        byte* log = stackalloc byte[logSize];
        log[0] = 0;
        int* options = stackalloc int[2] { 5 /* CU_JIT_ERROR_LOG_BUFFER */, 6 /* CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES */ };
        void** values = stackalloc void*[2] { log, (void*)(nint)logSize };
        nint m;
        fixed (byte* image = ptxNulTerminated)
        {
            int rc = cuModuleLoadDataEx(&m, image, 2, options, values);
            if (rc != 0)
                Check(rc, "cuModuleLoadDataEx", $"loading {what}: {Marshal.PtrToStringUTF8((nint)log)?.Trim()}");
        }
        Set(m);
    }

    public nint GetFunction(string entryPoint)
    {
        nint f;
        byte[] name = System.Text.Encoding.ASCII.GetBytes(entryPoint + "\0");
        fixed (byte* p = name) Check(cuModuleGetFunction(&f, handle, p), "cuModuleGetFunction", $"entry '{entryPoint}'");
        return f;
    }

    protected override int Destroy(nint value) => cuModuleUnload(value);
}

/// <summary>A block of device memory (cuMemAlloc_v2 / cuMemFree_v2).</summary>
internal sealed unsafe class DeviceMemory : ContextBoundHandle
{
    public DeviceMemory(PrimaryContext context, long bytes) : base(context)
    {
        ulong p;
        Check(cuMemAlloc_v2(&p, (nuint)Math.Max(bytes, 1)), "cuMemAlloc_v2", $"allocating {bytes} bytes");
        Set((nint)p);
    }

    public ulong Address => (ulong)handle;

    protected override int Destroy(nint value) => cuMemFree_v2((ulong)value);
}

/// <summary>Page-locked host memory (cuMemAllocHost_v2): the source or target of truly asynchronous copies.</summary>
internal sealed unsafe class PinnedHostMemory : ContextBoundHandle
{
    public PinnedHostMemory(PrimaryContext context, long bytes) : base(context)
    {
        void* p;
        Check(cuMemAllocHost_v2(&p, (nuint)Math.Max(bytes, 1)), "cuMemAllocHost_v2", $"allocating {bytes} pinned bytes");
        Set((nint)p);
        ByteLength = bytes;
    }

    public long ByteLength { get; }

    public Span<byte> Span => new((void*)handle, checked((int)ByteLength));

    protected override int Destroy(nint value) => cuMemFreeHost((void*)value);
}
