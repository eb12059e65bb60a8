namespace Tessera.Kernels;

/// <summary>Marks a public static method as a GPU kernel entry point that the build compiles to PTX.
/// Kernels are explicitly grouped (they read Grid.IdxX / Group.IdxX themselves); the launch geometry
/// constants the host needs are recorded here and copied into the generated manifest.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class KernelAttribute : Attribute
{
    /// <summary>Threads per block along x the kernel is written for (0: any, host chooses).</summary>
    public int BlockX { get; init; }

    /// <summary>Threads per block along y (1 for 1-D blocks).</summary>
    public int BlockY { get; init; } = 1;

    /// <summary>The naive reference this kernel is checked against (for the manifest and the docs).</summary>
    public string Reference { get; init; } = "";

    /// <summary>Tile sizes and other specialised constants, "name=value" pairs, copied to the manifest.</summary>
    public string[] Constants { get; init; } = [];
}
