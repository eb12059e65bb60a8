using System.Collections.Concurrent;
using static Tessera.Cuda.CudaDriver;

namespace Tessera.Cuda;

/// <summary>Loads kernels on first use (one module per kernel, JIT-compiled by the driver from the PTX of the
/// device's architecture) and launches them with their arguments packed as the manifest lays them out.</summary>
internal sealed unsafe class KernelLauncher : IDisposable
{
    private sealed record Loaded(ManifestKernel Meta, CudaModule Module, nint Function)
    {
        public int DynamicSharedLimitSet;
    }

    private readonly PrimaryContext _context;
    private readonly string _arch;
    private readonly ConcurrentDictionary<string, Loaded> _loaded = new();
    private readonly Lock _loadLock = new();

    public KernelLauncher(PrimaryContext context, string arch)
    {
        _context = context;
        _arch = arch;
    }

    public string Architecture => _arch;

    private Loaded Get(string name)
    {
        if (_loaded.TryGetValue(name, out var k)) return k;
        lock (_loadLock)
        {
            if (_loaded.TryGetValue(name, out k)) return k;
            var meta = KernelCatalog.Find(name);
            var module = new CudaModule(_context, KernelCatalog.Ptx(meta, _arch), $"{name} ({_arch})");
            k = new Loaded(meta, module, module.GetFunction(meta.EntryPoint));
            _loaded[name] = k;
            return k;
        }
    }

    /// <summary>The kernel's manifest entry.</summary>
    public ManifestKernel Meta(string name) => Get(name).Meta;

    /// <summary>Launches a kernel. <paramref name="dynamicSharedBytes"/> past 48 KB raises the function's limit
    /// first (cuFuncSetAttribute), since the driver refuses such a launch otherwise.</summary>
    public void Launch(string name, CudaStream stream, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block,
        int dynamicSharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        var k = Get(name);
        var ps = k.Meta.Parameters;
        if (args.Length != ps.Count)
            throw new TesseraException($"cuda: kernel {name} takes {ps.Count} arguments ({string.Join(", ", ps.Select(p => p.Name))}), got {args.Length}");
        byte* buffer = stackalloc byte[Math.Max(k.Meta.ArgumentBytes, 1)];
        void** pointers = stackalloc void*[Math.Max(ps.Count, 1)];
        for (int i = 0; i < ps.Count; i++)
        {
            var p = ps[i];
            var a = args[i];
            string kind = a.Kind switch { KernelArgKind.View => "view", KernelArgKind.Scalar => "scalar", _ => "struct" };
            if (kind != p.Kind || a.Size != p.Size)
                throw new TesseraException($"cuda: kernel {name} argument {i} '{p.Name}' is a {p.Size}-byte {p.Kind} ({p.ClrType}); got a {a.Size}-byte {kind}");
            if (p.Offset + p.Size > k.Meta.ArgumentBytes)
                throw new TesseraException($"cuda: kernel {name} manifest places '{p.Name}' past its {k.Meta.ArgumentBytes}-byte argument buffer");
            a.Bytes[..a.Size].CopyTo(new Span<byte>(buffer + p.Offset, a.Size));
            pointers[i] = buffer + p.Offset;
        }
        if (dynamicSharedBytes > 48 * 1024 && k.DynamicSharedLimitSet < dynamicSharedBytes)
        {
            Check(cuFuncSetAttribute(k.Function, 8 /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */, dynamicSharedBytes),
                "cuFuncSetAttribute", $"{name}: {dynamicSharedBytes} bytes of dynamic shared memory");
            k.DynamicSharedLimitSet = dynamicSharedBytes;
        }
        Check(cuLaunchKernel(k.Function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (uint)dynamicSharedBytes,
            stream.DangerousGetHandle(), pointers, null), "cuLaunchKernel", $"{name} grid ({grid.X},{grid.Y},{grid.Z}) block ({block.X},{block.Y},{block.Z})");
    }

    public void Dispose()
    {
        foreach (var k in _loaded.Values) k.Module.Dispose();
        _loaded.Clear();
    }
}
