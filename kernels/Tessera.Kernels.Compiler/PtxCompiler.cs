using System.Reflection;
using System.Text;
using System.Text.Json;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.IR.Types;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Tessera.Cuda;
using Tessera.Kernels;

namespace Tessera.Kernels.Compiler;

/// <summary>Compiles kernels with ILGPU's PTX backend. No GPU and no CUDA toolkit are involved: the backend is
/// built on a CudaCapabilityContext for each target and emits PTX text, which the driver JIT-compiles at load.
/// O1, not O2: O2 miscompiles a switch (ARCHITECTURE decision 2).</summary>
internal static class PtxCompiler
{
    /// <summary>The targets, each with the lowest PTX ISA that supports it (so older drivers still load it).</summary>
    public static readonly (string Name, CudaArchitecture Arch, CudaInstructionSet Isa)[] Targets =
    [
        ("sm_80", CudaArchitecture.SM_80, CudaInstructionSet.ISA_70),
        ("sm_90", CudaArchitecture.SM_90, CudaInstructionSet.ISA_78),
    ];

    // Type names hold '<' and '>': write them as they are (the file is read by our own parser, not a browser).
    private static readonly KernelManifestJson Json = new(new JsonSerializerOptions(KernelManifestJson.Default.Options)
    { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    public sealed record Result(List<string> Errors);

    public static Result CompileAll(List<(string Name, MethodInfo Method, KernelAttribute Attribute)> kernels, string outDir)
    {
        var errors = new List<string>();
        using var context = Context.Create(b => b.Optimize(OptimizationLevel.O1).EnableAlgorithms());
        var ptx = new Dictionary<(string Kernel, string Arch), PtxText>();
        var texts = new Dictionary<(string Kernel, string Arch), string>();
        foreach (var (archName, arch, isa) in Targets)
        {
            using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, isa, nvvmAPI: null);
            foreach (var (name, method, _) in kernels)
            {
                try
                {
                    var entry = EntryPointDescription.FromExplicitlyGroupedKernel(method);
                    var compiled = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
                    string text = RetargetTo(compiled.PTXAssembly, archName);
                    texts[(name, archName)] = text;
                    ptx[(name, archName)] = PtxText.Parse(text, compiled.Name);
                }
                catch (Exception e)
                {
                    errors.Add($"{name} ({method.DeclaringType!.FullName}.{method.Name}) does not compile for {archName}: {Flatten(e)}");
                }
            }
        }
        if (errors.Count > 0) return new Result(errors);

        using var layoutBackend = new PTXBackend(context, new CudaCapabilityContext(Targets[0].Arch), Targets[0].Arch, Targets[0].Isa, nvvmAPI: null);
        var typeContext = layoutBackend.ArgumentMapper.TypeContext;
        var entries = new List<ManifestKernel>();
        foreach (var (name, method, attr) in kernels)
        {
            try { entries.Add(Describe(name, method, attr, ptx, typeContext)); }
            catch (InvalidOperationException e) { errors.Add(e.Message); }
        }
        if (errors.Count > 0) return new Result(errors);

        // Replace the output wholesale so a deleted kernel leaves no stale PTX behind.
        foreach (var (archName, _, _) in Targets)
        {
            string dir = Path.Combine(outDir, archName);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.CreateDirectory(dir);
        }
        foreach (var ((kernel, arch), text) in texts)
            File.WriteAllText(Path.Combine(outDir, arch, kernel + ".ptx"), text, new UTF8Encoding(false));
        var manifest = new KernelManifest(
            $"ILGPU {typeof(Context).Assembly.GetName().Version?.ToString(3)}",
            nameof(OptimizationLevel.O1), // not ToString(): O1 is an alias of Release in the enum
            [.. Targets.Select(t => new ManifestArchitecture(t.Name, t.Arch.Major, t.Arch.Minor, $"{t.Isa.Major}.{t.Isa.Minor}"))],
            entries);
        File.WriteAllText(Path.Combine(outDir, "manifest.json"),
            JsonSerializer.Serialize(manifest, Json.KernelManifest), new UTF8Encoding(false));
        return new Result(errors);
    }

    private static ManifestKernel Describe(string name, MethodInfo method, KernelAttribute attr,
        Dictionary<(string, string), PtxText> ptx, IRTypeContext types)
    {
        var first = ptx[(name, Targets[0].Name)];
        foreach (var (arch, _, _) in Targets)
        {
            var p = ptx[(name, arch)];
            if (p.EntryPoint != first.EntryPoint || p.StaticSharedBytes != first.StaticSharedBytes || p.Params.Count != first.Params.Count)
                throw new InvalidOperationException($"{name}: the {arch} PTX differs from {Targets[0].Name} in entry point, shared memory or parameters");
        }
        var parameters = ParameterLayout.Describe(method, types);
        ParameterLayout.CheckAgainstPtx(name, parameters, first.Params);
        int argBytes = parameters.Count == 0 ? 0 : parameters[^1].Offset + parameters[^1].Size;
        return new ManifestKernel(name, method.DeclaringType!.FullName!, method.Name, first.EntryPoint,
            attr.BlockX, attr.BlockY, attr.Constants, attr.Reference, first.StaticSharedBytes, argBytes, parameters,
            Targets.ToDictionary(t => t.Name, t => $"{t.Name}/{name}.ptx"));
    }

    /// <summary>ILGPU writes the lowest architecture its capability set needs (sm_80 for everything it can emit);
    /// each variant is labelled with the architecture it is built for, so that code added for that
    /// architecture (inline PTX) is accepted by the driver's JIT. A newer target only widens what is allowed.</summary>
    private static string RetargetTo(string ptx, string arch)
    {
        int at = ptx.IndexOf("\n.target ", StringComparison.Ordinal);
        if (at < 0) throw new InvalidOperationException("the generated PTX has no .target line");
        int end = ptx.IndexOf('\n', at + 1);
        string line = ptx[(at + 1)..end];
        string rest = line[".target ".Length..];
        int comma = rest.IndexOf(',');
        string suffix = comma < 0 ? "" : rest[comma..];
        return ptx[..(at + 1)] + ".target " + arch + suffix + ptx[end..];
    }

    private static string Flatten(Exception e)
    {
        var sb = new StringBuilder(e.GetType().Name).Append(": ").Append(e.Message);
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            sb.Append(" <- ").Append(inner.GetType().Name).Append(": ").Append(inner.Message);
        return sb.ToString().ReplaceLineEndings(" ");
    }
}
