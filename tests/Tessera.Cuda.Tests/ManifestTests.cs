using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Tessera.Kernels;

namespace Tessera.Cuda.Tests;

/// <summary>The generated manifest and the embedded PTX, checked against the kernel methods themselves.</summary>
public sealed class ManifestTests
{
    private static readonly KernelManifest Manifest = KernelCatalog.Manifest;

    private static IEnumerable<MethodInfo> KernelMethods() =>
        typeof(KernelAttribute).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<KernelAttribute>() is not null);

    [Fact]
    public void Every_kernel_method_is_in_the_manifest_and_nothing_else()
    {
        var methods = KernelMethods().Select(m => $"{m.DeclaringType!.Name}.{m.Name}").Order().ToList();
        Assert.NotEmpty(methods);
        Assert.Equal(methods, Manifest.Kernels.Select(k => k.Name).Order().ToList());
        Assert.Equal(["sm_80", "sm_90"], Manifest.Architectures.Select(a => a.Name));
        Assert.Equal("O1", Manifest.Optimization);
    }

    [Fact]
    public void Each_entry_parameter_layout_matches_its_kernel_signature()
    {
        var byName = KernelMethods().ToDictionary(m => $"{m.DeclaringType!.Name}.{m.Name}");
        foreach (var k in Manifest.Kernels)
        {
            var m = byName[k.Name];
            var attr = m.GetCustomAttribute<KernelAttribute>()!;
            Assert.Equal(m.DeclaringType!.FullName, k.DeclaringType);
            Assert.Equal((attr.BlockX, attr.BlockY, attr.Reference), (k.BlockX, k.BlockY, k.Reference));
            Assert.Equal(attr.Constants, k.Constants);
            var ps = m.GetParameters();
            Assert.True(ps.Length == k.Parameters.Count, $"{k.Name}: {ps.Length} parameters, manifest has {k.Parameters.Count}");
            int end = 0;
            for (int i = 0; i < ps.Length; i++)
            {
                var (p, e) = (ps[i].ParameterType, k.Parameters[i]);
                string where = $"{k.Name} parameter {i} '{ps[i].Name}'";
                Assert.True(ps[i].Name == e.Name, where);
                if (p.IsGenericType && p.GetGenericTypeDefinition() == typeof(ILGPU.ArrayView<>))
                {
                    // An ArrayView is passed as its device form: pointer, then 64-bit length.
                    Assert.True(e.Kind == "view" && e.Size == 16 && e.Alignment == 8, where);
                    Assert.Equal(p.GetGenericArguments()[0].FullName, e.ElementType);
                }
                else if (p.IsPrimitive)
                {
                    Assert.True(e.Kind == "scalar" && e.Size == Marshal.SizeOf(p) && e.Alignment == Marshal.SizeOf(p), where);
                    Assert.Equal(p.FullName, e.ClrType);
                }
                else
                {
                    Assert.True(e.Kind == "struct" && e.Size == Marshal.SizeOf(p), where);
                    var fields = p.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
                    Assert.Equal(fields.Select(f => (f.Name, (int)Marshal.OffsetOf(p, f.Name))).OrderBy(f => f.Item2),
                        e.Fields!.Select(f => (f.Name, f.Offset)));
                }
                Assert.True(e.Offset % e.Alignment == 0 && e.Offset >= end, $"{where}: offset {e.Offset} (previous end {end})");
                end = e.Offset + e.Size;
            }
            Assert.Equal(end, k.ArgumentBytes);
        }
    }

    [Fact]
    public void The_host_mirror_of_StridedLayout_matches_the_kernel_struct()
    {
        var entry = Manifest.Kernels.SelectMany(k => k.Parameters).First(p => p.ClrType == typeof(StridedLayout).FullName);
        Assert.Equal(Marshal.SizeOf<StridedLayoutArg>(), entry.Size);
        Assert.Equal(typeof(StridedLayoutArg).GetFields(BindingFlags.Instance | BindingFlags.Public).Select(f => (f.Name, (int)Marshal.OffsetOf<StridedLayoutArg>(f.Name))),
            entry.Fields!.Select(f => (f.Name, f.Offset)));
    }

    [Fact]
    public void Kernel_op_and_dtype_codes_are_the_engine_enum_values()
    {
        foreach (var op in Enum.GetValues<UnaryOp>())
            Assert.Equal((int)op, (int)typeof(OpCodes).GetField(op.ToString())!.GetValue(null)!);
        foreach (var op in Enum.GetValues<BinaryOp>())
        {
            // Max/Min share names with no unary op; Add..Min are the binary constants.
            Assert.Equal((int)op, (int)typeof(OpCodes).GetField(op.ToString())!.GetValue(null)!);
        }
        foreach (var op in Enum.GetValues<CompareOp>())
            Assert.Equal((int)op, (int)typeof(CompareKernels).GetField(op.ToString())!.GetValue(null)!);
        Assert.Equal(Enum.GetValues<CompareOp>().Length, typeof(CompareKernels).GetFields().Count(f => f.IsLiteral));
        foreach (var t in new[] { DType.F32, DType.F16, DType.BF16, DType.I8, DType.U8, DType.I32, DType.I64 })
            Assert.Equal((int)t, (int)typeof(ElementCodes).GetField(t.ToString())!.GetValue(null)!);
    }

    [Fact]
    public void Every_ptx_resource_is_embedded_and_declares_its_entry_point_and_target()
    {
        var names = KernelCatalog.ResourceNames.ToHashSet();
        Assert.Contains("ptx/manifest.json", names);
        int count = 0;
        foreach (var k in Manifest.Kernels)
            foreach (var a in Manifest.Architectures)
            {
                Assert.Contains("ptx/" + k.Ptx[a.Name], names);
                string ptx = System.Text.Encoding.UTF8.GetString(KernelCatalog.Ptx(k, a.Name)).TrimEnd('\0');
                Assert.Matches(new Regex($@"\.visible\s+\.entry\s+{Regex.Escape(k.EntryPoint)}\s*\("), ptx);
                Assert.Matches(new Regex($@"(?m)^\.target\s+{a.Name}\b"), ptx);
                Assert.Matches(new Regex($@"(?m)^\.version\s+{Regex.Escape(a.Isa)}\b"), ptx);
                count++;
            }
        Assert.Equal(Manifest.Kernels.Count * Manifest.Architectures.Count, names.Count(n => n.EndsWith(".ptx")));
        Assert.True(count > 0);
    }
}
