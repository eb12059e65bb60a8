using System.Text.Json.Serialization;

namespace Tessera.Cuda;

// The schema of manifest.json, written by kernels/Tessera.Kernels.Compiler (which compiles this file in too, so
// writer and reader share one definition) and read here through System.Text.Json source generation
// (NativeAOT-safe, no reflection).

/// <summary>Every compiled kernel, and how it was compiled.</summary>
internal sealed record KernelManifest(
    string Generator,
    string Optimization,
    IReadOnlyList<ManifestArchitecture> Architectures,
    IReadOnlyList<ManifestKernel> Kernels);

/// <summary>One PTX target: "sm_80" and the PTX ISA version written in its .version line.</summary>
internal sealed record ManifestArchitecture(string Name, int Major, int Minor, string Isa);

/// <summary>One [Kernel] method. <see cref="Name"/> is "Class.Method"; <see cref="Ptx"/> maps an architecture
/// name to the resource path of its PTX ("sm_80/ElementwiseKernels.FillF32.ptx").</summary>
internal sealed record ManifestKernel(
    string Name,
    string DeclaringType,
    string Method,
    string EntryPoint,
    int BlockX,
    int BlockY,
    IReadOnlyList<string> Constants,
    string Reference,
    int StaticSharedMemoryBytes,
    int ArgumentBytes,
    IReadOnlyList<ManifestParameter> Parameters,
    IReadOnlyDictionary<string, string> Ptx);

/// <summary>How one kernel parameter is laid out in the packed argument buffer. Kind is "view" (an ArrayView:
/// device pointer then 64-bit element count), "scalar" or "struct" (with its fields).</summary>
internal sealed record ManifestParameter(
    string Name,
    string ClrType,
    string Kind,
    string? ElementType,
    int Size,
    int Alignment,
    int Offset,
    IReadOnlyList<ManifestField>? Fields);

/// <summary>A field of a struct parameter: offset inside the struct.</summary>
internal sealed record ManifestField(string Name, string ClrType, int Size, int Offset);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(KernelManifest))]
internal sealed partial class KernelManifestJson : JsonSerializerContext;
