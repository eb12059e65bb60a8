using System.Runtime.InteropServices;

namespace Tessera.Cuda;

/// <summary>The CUDA driver API, bound at run time. libcuda is looked up with NativeLibrary.TryLoad and each
/// entry point with TryGetExport into an unmanaged function pointer: no DllImport is ever resolved eagerly, so a
/// machine without the driver gets a reason string instead of a DllNotFoundException, and nothing here needs
/// marshalling stubs or reflection (NativeAOT-safe). Every call goes through <see cref="Check"/>, which turns a
/// non-zero CUresult into a <see cref="CudaException"/> naming the call and the error.</summary>
internal static unsafe class CudaDriver
{
    private static readonly Lazy<string?> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Null when the driver is loaded and initialised, else why not.</summary>
    public static string? WhyUnavailable => Loaded.Value;

    public static bool IsAvailable => WhyUnavailable is null;

#pragma warning disable CS0649 // assigned through Bind
    public static delegate* unmanaged<uint, int> cuInit;
    public static delegate* unmanaged<int*, int> cuDriverGetVersion;
    public static delegate* unmanaged<int*, int> cuDeviceGetCount;
    public static delegate* unmanaged<int*, int, int> cuDeviceGet;
    public static delegate* unmanaged<byte*, int, int, int> cuDeviceGetName;
    public static delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
    public static delegate* unmanaged<nuint*, int, int> cuDeviceTotalMem_v2;
    public static delegate* unmanaged<nint*, int, int> cuDevicePrimaryCtxRetain;
    public static delegate* unmanaged<int, int> cuDevicePrimaryCtxRelease;
    public static delegate* unmanaged<nint, int> cuCtxSetCurrent;
    public static delegate* unmanaged<ulong*, nuint, int> cuMemAlloc_v2;
    public static delegate* unmanaged<ulong, int> cuMemFree_v2;
    public static delegate* unmanaged<void**, nuint, int> cuMemAllocHost_v2;
    public static delegate* unmanaged<void*, int> cuMemFreeHost;
    public static delegate* unmanaged<ulong, void*, nuint, nint, int> cuMemcpyHtoDAsync_v2;
    public static delegate* unmanaged<void*, ulong, nuint, nint, int> cuMemcpyDtoHAsync_v2;
    public static delegate* unmanaged<ulong, ulong, nuint, nint, int> cuMemcpyDtoDAsync_v2;
    public static delegate* unmanaged<ulong, nint, ulong, nint, nuint, nint, int> cuMemcpyPeerAsync;
    public static delegate* unmanaged<ulong, byte, nuint, nint, int> cuMemsetD8Async;
    public static delegate* unmanaged<nint*, uint, int> cuStreamCreate;
    public static delegate* unmanaged<nint, int> cuStreamDestroy_v2;
    public static delegate* unmanaged<nint, int> cuStreamSynchronize;
    public static delegate* unmanaged<nint, nint, uint, int> cuStreamWaitEvent;
    public static delegate* unmanaged<nint*, uint, int> cuEventCreate;
    public static delegate* unmanaged<nint, nint, int> cuEventRecord;
    public static delegate* unmanaged<nint, int> cuEventSynchronize;
    public static delegate* unmanaged<float*, nint, nint, int> cuEventElapsedTime;
    public static delegate* unmanaged<nint, int> cuEventDestroy_v2;
    public static delegate* unmanaged<nint*, void*, uint, int*, void**, int> cuModuleLoadDataEx;
    public static delegate* unmanaged<nint*, nint, byte*, int> cuModuleGetFunction;
    public static delegate* unmanaged<nint, int> cuModuleUnload;
    public static delegate* unmanaged<nint, int, int, int> cuFuncSetAttribute;
    public static delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> cuLaunchKernel;
    public static delegate* unmanaged<int, byte**, int> cuGetErrorName;
    public static delegate* unmanaged<int, byte**, int> cuGetErrorString;
#pragma warning restore CS0649

    /// <summary>Library names tried in order.</summary>
    private static string[] LibraryNames =>
        OperatingSystem.IsWindows() ? ["nvcuda.dll"] : OperatingSystem.IsMacOS() ? [] : ["libcuda.so.1", "libcuda.so"];

    private static string? Load()
    {
        var names = LibraryNames;
        if (names.Length == 0) return "no CUDA driver (CUDA is not available on this operating system)";
        nint lib = 0;
        foreach (var n in names)
            if (NativeLibrary.TryLoad(n, out lib)) break;
        if (lib == 0) return $"no CUDA driver ({names[0]} not found)";

        var missing = new List<string>();
        nint Get(string name, string? fallback = null)
        {
            if (NativeLibrary.TryGetExport(lib, name, out var p)) return p;
            if (fallback is not null && NativeLibrary.TryGetExport(lib, fallback, out p)) return p;
            missing.Add(name);
            return 0;
        }
        cuInit = (delegate* unmanaged<uint, int>)Get("cuInit");
        cuDriverGetVersion = (delegate* unmanaged<int*, int>)Get("cuDriverGetVersion");
        cuDeviceGetCount = (delegate* unmanaged<int*, int>)Get("cuDeviceGetCount");
        cuDeviceGet = (delegate* unmanaged<int*, int, int>)Get("cuDeviceGet");
        cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)Get("cuDeviceGetName");
        cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Get("cuDeviceGetAttribute");
        cuDeviceTotalMem_v2 = (delegate* unmanaged<nuint*, int, int>)Get("cuDeviceTotalMem_v2");
        cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)Get("cuDevicePrimaryCtxRetain");
        cuDevicePrimaryCtxRelease = (delegate* unmanaged<int, int>)Get("cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
        cuCtxSetCurrent = (delegate* unmanaged<nint, int>)Get("cuCtxSetCurrent");
        cuMemAlloc_v2 = (delegate* unmanaged<ulong*, nuint, int>)Get("cuMemAlloc_v2");
        cuMemFree_v2 = (delegate* unmanaged<ulong, int>)Get("cuMemFree_v2");
        cuMemAllocHost_v2 = (delegate* unmanaged<void**, nuint, int>)Get("cuMemAllocHost_v2");
        cuMemFreeHost = (delegate* unmanaged<void*, int>)Get("cuMemFreeHost");
        cuMemcpyHtoDAsync_v2 = (delegate* unmanaged<ulong, void*, nuint, nint, int>)Get("cuMemcpyHtoDAsync_v2");
        cuMemcpyDtoHAsync_v2 = (delegate* unmanaged<void*, ulong, nuint, nint, int>)Get("cuMemcpyDtoHAsync_v2");
        cuMemcpyDtoDAsync_v2 = (delegate* unmanaged<ulong, ulong, nuint, nint, int>)Get("cuMemcpyDtoDAsync_v2");
        cuMemcpyPeerAsync = (delegate* unmanaged<ulong, nint, ulong, nint, nuint, nint, int>)Get("cuMemcpyPeerAsync");
        cuMemsetD8Async = (delegate* unmanaged<ulong, byte, nuint, nint, int>)Get("cuMemsetD8Async");
        cuStreamCreate = (delegate* unmanaged<nint*, uint, int>)Get("cuStreamCreate");
        cuStreamDestroy_v2 = (delegate* unmanaged<nint, int>)Get("cuStreamDestroy_v2");
        cuStreamSynchronize = (delegate* unmanaged<nint, int>)Get("cuStreamSynchronize");
        cuStreamWaitEvent = (delegate* unmanaged<nint, nint, uint, int>)Get("cuStreamWaitEvent");
        cuEventCreate = (delegate* unmanaged<nint*, uint, int>)Get("cuEventCreate");
        cuEventRecord = (delegate* unmanaged<nint, nint, int>)Get("cuEventRecord");
        cuEventSynchronize = (delegate* unmanaged<nint, int>)Get("cuEventSynchronize");
        cuEventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)Get("cuEventElapsedTime");
        cuEventDestroy_v2 = (delegate* unmanaged<nint, int>)Get("cuEventDestroy_v2");
        cuModuleLoadDataEx = (delegate* unmanaged<nint*, void*, uint, int*, void**, int>)Get("cuModuleLoadDataEx");
        cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)Get("cuModuleGetFunction");
        cuModuleUnload = (delegate* unmanaged<nint, int>)Get("cuModuleUnload");
        cuFuncSetAttribute = (delegate* unmanaged<nint, int, int, int>)Get("cuFuncSetAttribute");
        cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Get("cuLaunchKernel");
        cuGetErrorName = (delegate* unmanaged<int, byte**, int>)Get("cuGetErrorName");
        cuGetErrorString = (delegate* unmanaged<int, byte**, int>)Get("cuGetErrorString");
        if (missing.Count > 0)
            return $"CUDA driver too old ({names[0]} lacks {string.Join(", ", missing)})";

        int rc = cuInit(0);
        if (rc != 0) return $"CUDA driver failed to initialise: {ErrorName(rc)} ({ErrorText(rc)})";
        return null;
    }

    /// <summary>Throws when the driver is not available.</summary>
    public static void Require()
    {
        if (WhyUnavailable is { } why) throw new TesseraException($"cuda: {why}");
    }

    /// <summary>Throws a <see cref="CudaException"/> for a failed call.</summary>
    public static void Check(int result, string call, string? detail = null)
    {
        if (result != 0) throw new CudaException(call, result, ErrorName(result), ErrorText(result), detail);
    }

    public static string ErrorName(int e)
    {
        byte* p = null;
        if (cuGetErrorName != null && cuGetErrorName(e, &p) == 0 && p != null) return Marshal.PtrToStringUTF8((nint)p) ?? $"CUresult {e}";
        return $"CUresult {e}";
    }

    public static string ErrorText(int e)
    {
        byte* p = null;
        if (cuGetErrorString != null && cuGetErrorString(e, &p) == 0 && p != null) return Marshal.PtrToStringUTF8((nint)p) ?? "unknown error";
        return "unknown error";
    }
}
