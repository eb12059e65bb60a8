using System.Text;
using static Tessera.Cuda.CudaDriver;

namespace Tessera.Cuda;

/// <summary>One CUDA device as the driver reports it.</summary>
/// <param name="Ordinal">Device number, as in "cuda:0".</param>
/// <param name="Name">Marketing name ("NVIDIA H100 80GB HBM3").</param>
/// <param name="Major">Compute capability major version.</param>
/// <param name="Minor">Compute capability minor version.</param>
/// <param name="TotalMemoryBytes">Device memory in bytes.</param>
/// <param name="Multiprocessors">Streaming multiprocessors.</param>
public sealed record CudaDeviceInfo(int Ordinal, string Name, int Major, int Minor, long TotalMemoryBytes, int Multiprocessors)
{
    /// <summary>"sm_90".</summary>
    public string Sm => $"sm_{Major}{Minor}";

    /// <inheritdoc/>
    public override string ToString() => $"cuda:{Ordinal} {Name} ({Sm}, {TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB, {Multiprocessors} SMs)";
}

/// <summary>What CUDA offers on this machine, for `tessera info` and for tests that skip without a GPU.</summary>
public static unsafe class CudaInfo
{
    /// <summary>Null when the CUDA driver is loaded and initialised, else the reason ("no CUDA driver
    /// (libcuda.so.1 not found)").</summary>
    public static string? DriverUnavailableReason => WhyUnavailable;

    /// <summary>The devices the driver reports (empty without a driver), or throws <see cref="CudaException"/>.</summary>
    public static IReadOnlyList<CudaDeviceInfo> Devices()
    {
        if (!IsAvailable) return [];
        int count;
        Check(cuDeviceGetCount(&count), "cuDeviceGetCount");
        var list = new List<CudaDeviceInfo>(count);
        for (int i = 0; i < count; i++) list.Add(Query(i));
        return list;
    }

    internal static CudaDeviceInfo Query(int ordinal)
    {
        int dev;
        Check(cuDeviceGet(&dev, ordinal), "cuDeviceGet", $"ordinal {ordinal}");
        byte* name = stackalloc byte[256];
        Check(cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
        nuint mem;
        Check(cuDeviceTotalMem_v2(&mem, dev), "cuDeviceTotalMem_v2");
        return new CudaDeviceInfo(ordinal, System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)name) ?? "?",
            Attribute(dev, 75), Attribute(dev, 76), (long)mem, Attribute(dev, 16));
    }

    internal static int Attribute(int dev, int attribute)
    {
        int v;
        Check(cuDeviceGetAttribute(&v, attribute, dev), "cuDeviceGetAttribute", $"attribute {attribute}");
        return v;
    }

    /// <summary>The device's f32 FMA peak in GFLOP/s: SMs x f32 lanes per SM (64 on sm_80 and sm_60/70, 128 on
    /// sm_86/89/90) x 2 flops x the boost clock the driver reports.</summary>
    public static double PeakF32Gflops(CudaDeviceInfo d)
    {
        int dev;
        Check(cuDeviceGet(&dev, d.Ordinal), "cuDeviceGet", $"ordinal {d.Ordinal}");
        double clockGhz = Attribute(dev, 13) / 1e6; // CU_DEVICE_ATTRIBUTE_CLOCK_RATE, kHz
        int lanes = d.Major * 10 + d.Minor is 86 or 87 or 89 || d.Major >= 9 ? 128 : 64;
        return d.Multiprocessors * lanes * 2 * clockGhz;
    }

    /// <summary>What this build carries for the GPU, read from the embedded manifest (works with or without a
    /// driver): "N kernels, PTX for sm_80, sm_90".</summary>
    public static string EmbeddedKernels()
    {
        var m = KernelCatalog.Manifest;
        return $"{m.Kernels.Count} kernels, PTX for {string.Join(", ", m.Architectures.Select(a => a.Name))}";
    }

    /// <summary>A few lines for `tessera info`: the driver version and each device with its SM version, memory
    /// and which embedded PTX it would run, or the reason there is no CUDA.</summary>
    public static string Describe()
    {
        if (WhyUnavailable is { } why) return $"cuda: unavailable: {why}";
        try
        {
            int version;
            Check(cuDriverGetVersion(&version), "cuDriverGetVersion");
            var devices = Devices();
            var sb = new StringBuilder($"cuda: driver {version / 1000}.{version % 1000 / 10}, {devices.Count} device(s)");
            if (devices.Count == 0) sb.Append(": no CUDA device");
            foreach (var d in devices)
            {
                var arch = KernelCatalog.PickArchitecture(d.Major, d.Minor);
                sb.Append('\n').Append("  ").Append(d).Append(arch is null
                    ? $": unsupported (Tessera's PTX needs {KernelCatalog.Manifest.Architectures.Min(a => a.Name)} or newer)"
                    : $": runs {arch.Name} PTX ({KernelCatalog.Manifest.Kernels.Count} kernels)");
            }
            return sb.ToString();
        }
        catch (TesseraException e) { return $"cuda: unavailable: {e.Message}"; }
    }
}
