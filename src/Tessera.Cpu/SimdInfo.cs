using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu;

/// <summary>What vector hardware the running process may use (in a NativeAOT binary, only the instruction
/// sets it was compiled for).</summary>
public static class SimdInfo
{
    /// <summary>Widest accelerated vector: "avx512", "avx2", "sse/neon (128-bit)" or "scalar".</summary>
    public static string Level =>
        Vector512.IsHardwareAccelerated ? "avx512"
        : Vector256.IsHardwareAccelerated ? "avx2"
        : Vector128.IsHardwareAccelerated ? "128-bit"
        : "scalar";

    /// <summary>Instruction-set extensions relevant to the kernels, with whether each is usable.</summary>
    public static IReadOnlyList<(string Name, bool Supported)> Extensions =>
    [
        ("Vector512", Vector512.IsHardwareAccelerated),
        ("Vector256", Vector256.IsHardwareAccelerated),
        ("FMA", Fma.IsSupported),
        ("AVX-512F", Avx512F.IsSupported),
        ("AVX-512BW", Avx512BW.IsSupported),
        ("AVX10.1", Avx10v1.IsSupported),
        ("AVX-VNNI", AvxVnni.IsSupported),
        ("BF16 dot product (no .NET 10 intrinsic)", false),
    ];
}
