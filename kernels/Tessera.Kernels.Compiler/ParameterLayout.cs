using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Backends.PointerViews;
using ILGPU.IR.Types;
using Tessera.Cuda;

namespace Tessera.Kernels.Compiler;

/// <summary>The packed argument buffer of a kernel, by ILGPU's own rules. ILGPU's CUDA launcher maps each
/// parameter type to its device form (an ArrayView&lt;T&gt; becomes ViewImplementation&lt;T&gt;: a pointer and a
/// 64-bit length; enums become their underlying type; plain structs stay as they are), lays the mapped values
/// out as one sequential struct and hands its address to cuLaunchKernel. We take sizes and alignments from
/// ILGPU's IR type context for those mapped types, place each parameter at the next offset aligned for it, and
/// then check every size and alignment against the .param declarations of the PTX itself.</summary>
internal static class ParameterLayout
{
    public static List<ManifestParameter> Describe(MethodInfo method, IRTypeContext types)
    {
        var result = new List<ManifestParameter>();
        int offset = 0;
        foreach (var p in method.GetParameters())
        {
            var t = p.ParameterType;
            string where = $"{method.DeclaringType!.Name}.{method.Name} parameter '{p.Name}' ({t})";
            if (t.IsByRef || t.IsPointer || !t.IsValueType)
                throw new InvalidOperationException($"{where}: kernel parameters must be unmanaged values (ArrayView<T>, scalars, plain structs)");
            string kind;
            Type mapped;
            string? element = null;
            List<ManifestField>? fields = null;
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(ArrayView<>))
            {
                kind = "view";
                element = Display(t.GetGenericArguments()[0]);
                mapped = typeof(ViewImplementation<>).MakeGenericType(t.GetGenericArguments()[0]);
            }
            else if (t.IsPrimitive || t.IsEnum)
            {
                kind = "scalar";
                mapped = t.IsEnum ? t.GetEnumUnderlyingType() : t;
            }
            else if (t.Name.StartsWith("ArrayView", StringComparison.Ordinal))
                throw new InvalidOperationException($"{where}: only ArrayView<T> views are supported as kernel parameters");
            else
            {
                kind = "struct";
                mapped = t;
                fields = StructFields(t, where);
            }
            var node = types.CreateType(mapped);
            int size = Interop.SizeOf(mapped), align = node.Alignment;
            if (node.Size != size)
                throw new InvalidOperationException($"{where}: ILGPU's IR size {node.Size} differs from its interop size {size}");
            offset = (offset + align - 1) / align * align;
            result.Add(new ManifestParameter(p.Name!, Display(t), kind, element, size, align, offset, fields));
            offset += size;
        }
        return result;
    }

    /// <summary>Fields of a struct parameter, which must hold only primitives, enums and nested plain structs
    /// (a view inside a struct would need ILGPU's field remapping, which the host side does not mirror).</summary>
    private static List<ManifestField> StructFields(Type t, string where)
    {
        var list = new List<ManifestField>();
        foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            var ft = f.FieldType;
            if (ft.IsGenericType && ft.Name.StartsWith("ArrayView", StringComparison.Ordinal))
                throw new InvalidOperationException($"{where}: field {f.Name} is a view; pass views as separate kernel parameters");
            if (!(ft.IsPrimitive || ft.IsEnum || (ft.IsValueType && !ft.IsGenericType)))
                throw new InvalidOperationException($"{where}: field {f.Name} of type {ft} is not a plain value");
            list.Add(new ManifestField(f.Name, Display(ft), Interop.SizeOf(ft), (int)Marshal.OffsetOf(t, f.Name)));
        }
        return [.. list.OrderBy(f => f.Offset)];
    }

    /// <summary>"ILGPU.ArrayView&lt;System.Single&gt;": readable, and what the layout test compares with.</summary>
    public static string Display(Type t) => !t.IsGenericType ? t.FullName ?? t.Name :
        $"{t.Namespace}.{t.Name[..t.Name.IndexOf('`')]}<{string.Join(", ", t.GetGenericArguments().Select(Display))}>";

    public static void CheckAgainstPtx(string kernel, List<ManifestParameter> layout, List<(int Size, int Alignment)> ptx)
    {
        if (layout.Count != ptx.Count)
            throw new InvalidOperationException($"{kernel}: {layout.Count} parameters in C#, {ptx.Count} .param declarations in the PTX");
        for (int i = 0; i < layout.Count; i++)
        {
            var (size, align) = ptx[i];
            if (layout[i].Size != size || layout[i].Alignment != align)
                throw new InvalidOperationException(
                    $"{kernel}: parameter '{layout[i].Name}' is {layout[i].Size} bytes aligned {layout[i].Alignment} by ILGPU's layout, " +
                    $"but the PTX declares {size} bytes aligned {align}");
        }
    }
}
