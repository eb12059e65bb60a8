using System.CommandLine;
using System.Runtime.InteropServices;
using Tessera.Cpu;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera info</c>: what this machine offers Tessera, and why a backend is absent.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var cmd = new Command("info", "Show SIMD level, cores, and the backends and devices found");
        cmd.SetAction(_ =>
        {
            Console.WriteLine($"tessera     {typeof(Tensor).Assembly.GetName().Version}");
            Console.WriteLine($"runtime     {RuntimeInformation.FrameworkDescription} ({(RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "NativeAOT")}), {RuntimeInformation.ProcessArchitecture}, {RuntimeInformation.OSDescription}");
            Console.WriteLine($"cores       {Environment.ProcessorCount}");
            Console.WriteLine($"simd        {SimdInfo.Level}");
            foreach (var (name, ok) in SimdInfo.Extensions) Console.WriteLine($"  {name,-28} {(ok ? "yes" : "no")}");
            Console.WriteLine("backends");
            Console.WriteLine($"  cpu       available: {CpuBackend.Default}");
            foreach (var line in Tessera.Cuda.CudaInfo.Describe().Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Console.WriteLine("  " + line.TrimEnd());
            Console.WriteLine($"  cuda kernels embedded: {Tessera.Cuda.CudaInfo.EmbeddedKernels()}");
            return 0;
        });
        return cmd;
    }

    private static class RuntimeFeature
    {
        public static bool IsDynamicCodeSupported => System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported;
    }
}
