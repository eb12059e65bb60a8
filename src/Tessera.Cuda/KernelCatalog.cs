using System.Reflection;
using System.Text.Json;

namespace Tessera.Cuda;

/// <summary>The kernels embedded in this assembly at build time: manifest.json and one PTX file per kernel and
/// architecture, under the resource names "ptx/manifest.json" and "ptx/&lt;arch&gt;/&lt;Class.Method&gt;.ptx".</summary>
internal static class KernelCatalog
{
    private static readonly Lazy<KernelManifest> LazyManifest = new(LoadManifest);

    public static KernelManifest Manifest => LazyManifest.Value;

    public static ManifestKernel Find(string name) =>
        Manifest.Kernels.FirstOrDefault(k => k.Name == name) ??
        throw new TesseraException($"cuda: no kernel '{name}' in the embedded manifest ({Manifest.Kernels.Count} kernels)");

    /// <summary>The newest architecture in the manifest the device can run (PTX for sm_80 runs on any sm_8x and later).</summary>
    public static ManifestArchitecture? PickArchitecture(int major, int minor) =>
        Manifest.Architectures.Where(a => a.Major < major || (a.Major == major && a.Minor <= minor))
            .OrderByDescending(a => a.Major * 10 + a.Minor).FirstOrDefault();

    /// <summary>The PTX text of one kernel for one architecture, NUL-terminated as cuModuleLoadDataEx wants it.</summary>
    public static byte[] Ptx(ManifestKernel kernel, string arch)
    {
        if (!kernel.Ptx.TryGetValue(arch, out var path))
            throw new TesseraException($"cuda: kernel {kernel.Name} has no PTX for {arch}");
        using var s = Open("ptx/" + path);
        var bytes = new byte[s.Length + 1];
        s.ReadExactly(bytes.AsSpan(0, (int)s.Length));
        return bytes;
    }

    /// <summary>Names of the embedded resources, with '/' separators whatever the build machine used.</summary>
    public static IEnumerable<string> ResourceNames =>
        typeof(KernelCatalog).Assembly.GetManifestResourceNames().Select(n => n.Replace('\\', '/'));

    private static Stream Open(string name)
    {
        var asm = typeof(KernelCatalog).Assembly;
        var actual = asm.GetManifestResourceNames().FirstOrDefault(n => n.Replace('\\', '/') == name);
        return (actual is null ? null : asm.GetManifestResourceStream(actual)) ??
            throw new TesseraException($"cuda: resource '{name}' is not embedded in {asm.GetName().Name}; the kernel build step did not run");
    }

    private static KernelManifest LoadManifest()
    {
        using var s = Open("ptx/manifest.json");
        return JsonSerializer.Deserialize(s, KernelManifestJson.Default.KernelManifest) ??
            throw new TesseraException("cuda: the embedded manifest.json is empty");
    }
}
