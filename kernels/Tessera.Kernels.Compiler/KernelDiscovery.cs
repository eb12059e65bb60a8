using System.Reflection;
using Tessera.Kernels;

namespace Tessera.Kernels.Compiler;

/// <summary>Finds the kernels: every public static method carrying [Kernel], in any public type of the kernel
/// assembly. No registration list; a new family file is picked up by the next build.</summary>
internal static class KernelDiscovery
{
    public static List<(string Name, MethodInfo Method, KernelAttribute Attribute)> Find(Assembly assembly, out List<string> errors)
    {
        errors = [];
        var found = new List<(string, MethodInfo, KernelAttribute)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in assembly.GetTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            var flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
            foreach (var m in type.GetMethods(flags).OrderBy(m => m.Name, StringComparer.Ordinal))
            {
                var attr = m.GetCustomAttribute<KernelAttribute>();
                if (attr is null) continue;
                string name = $"{type.Name}.{m.Name}";
                if (!m.IsPublic || !m.IsStatic || !type.IsVisible)
                    errors.Add($"{type.FullName}.{m.Name}: a [Kernel] must be a public static method of a public type");
                else if (m.ReturnType != typeof(void))
                    errors.Add($"{name}: a [Kernel] must return void, not {m.ReturnType.Name}");
                else if (m.IsGenericMethodDefinition || type.ContainsGenericParameters)
                    errors.Add($"{name}: a [Kernel] cannot be generic; write a non-generic entry point per instantiation");
                else if (!names.Add(name))
                    errors.Add($"{name}: overloaded [Kernel] methods; kernel names (Class.Method) must be unique");
                else
                    found.Add((name, m, attr));
            }
        }
        if (found.Count == 0 && errors.Count == 0) errors.Add($"no [Kernel] methods found in {assembly.GetName().Name}");
        return found;
    }
}
