using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Jit;

/// <summary>Whether run-time emitted kernels may be used in this process, and why not where they may not: an x64
/// process whose CPU has AVX512-VNNI (CPUID leaf 7, subleaf 0, ECX bit 11; .NET 10 cannot name it on Zen 4, where it
/// reports Avx10v1 and AvxVnni unsupported) and whose OS keeps the zmm state (Avx512BW.IsSupported), with emission not
/// switched off by the AppContext switch <see cref="DisableSwitch"/> or the environment variable TESSERA_JIT=0.</summary>
internal static class JitSupport
{
    /// <summary>The AppContext switch that turns emission off (runtimeconfig.json or AppContext.SetSwitch).</summary>
    public const string DisableSwitch = "Tessera.Cpu.DisableJit";

    /// <summary>The environment variable that turns emission off when it is "0".</summary>
    public const string EnvironmentVariable = "TESSERA_JIT";

    /// <summary>Whether the CPU executes AVX512-VNNI (vpdpbusd on zmm), by CPUID, whatever .NET reports.</summary>
    public static bool HasAvx512Vnni => X86Base.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0;

    // The environment is read once; the AppContext switch on each call (a dictionary look-up), so that it can be
    // flipped at run time (the tests do).
    private static readonly bool EnvironmentSaysOff = Environment.GetEnvironmentVariable(EnvironmentVariable) == "0";

    /// <summary>Whether emission is switched off. Kernels already handed out keep working; no more are handed out.</summary>
    public static bool IsSwitchedOff => EnvironmentSaysOff || (AppContext.TryGetSwitch(DisableSwitch, out bool off) && off);

    /// <summary>Why the AVX512-VNNI panel kernels cannot be emitted here, or null when they can.</summary>
    public static string? PanelKernelsUnavailable()
    {
        if (IsSwitchedOff) return $"run-time kernels switched off ({DisableSwitch} or {EnvironmentVariable}=0)";
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64) return $"run-time kernels are x86-64 code; this process is {RuntimeInformation.ProcessArchitecture}";
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsWindows()) return "executable memory is implemented for Linux and Windows only";
        if (!Avx512BW.IsSupported) return "no AVX-512BW (or the OS does not keep the zmm state)";
        if (!HasAvx512Vnni) return "the CPU has no AVX512-VNNI (CPUID leaf 7 ECX bit 11)";
        return null;
    }
}
