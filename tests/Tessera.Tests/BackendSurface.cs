using System.Reflection;

namespace Tessera.Tests;

/// <summary>The op surface as reflection sees it: the members of <see cref="IBackend"/> that compute (everything but
/// the name, the device, allocation, host copies and disposal), which of them a backend implements itself, and which
/// members a row named "MatMul 7x33x65 ..." exercises. Nothing here is a hand-written list of ops, so a member added
/// to IBackend shows up as uncovered until a row exercises it.</summary>
public static class BackendSurface
{
    private static readonly HashSet<string> NotOps =
        ["Allocate", "AllocateUninitialized", "CopyFromHost", "CopyToHost", "Dispose"];

    /// <summary>Every op member of IBackend, by name (methods only: Name and Device are properties).</summary>
    public static IReadOnlyList<string> Ops { get; } = typeof(IBackend)
        .GetMethods(BindingFlags.Public | BindingFlags.Instance)
        .Where(m => !m.IsSpecialName && !NotOps.Contains(m.Name))
        .Select(m => m.Name).Distinct().Order(StringComparer.Ordinal).ToArray();

    /// <summary>Whether the backend's type has its own body for the member, rather than IBackend's default body
    /// (which refuses with "the X backend has no ... yet", or for a few ops is built from other members).</summary>
    public static bool Implements(IBackend backend, string op)
    {
        var map = backend.GetType().GetInterfaceMap(typeof(IBackend));
        bool found = false;
        for (int i = 0; i < map.InterfaceMethods.Length; i++)
        {
            if (map.InterfaceMethods[i].Name != op) continue;
            found = true;
            if (map.TargetMethods[i].DeclaringType == typeof(IBackend)) return false;
        }
        return found ? true : throw new ArgumentException($"IBackend has no member '{op}'");
    }

    /// <summary>Row names whose first word is not the member they exercise.</summary>
    private static readonly Dictionary<string, string[]> Aliases = new()
    {
        ["Concat"] = [nameof(IBackend.Copy)],
        ["CopyInto"] = [nameof(IBackend.Copy)],
        ["Bicubic"] = [nameof(IBackend.InterpolateBicubic)],
        ["AvgPool2d"] = [nameof(IBackend.Pool2d)],
        ["MaxPool2d"] = [nameof(IBackend.Pool2d)],
        ["Argsort"] = ["TopK"],
    };

    /// <summary>Row names for ops made entirely by the front end (on the host, then uploaded): they exercise no member.</summary>
    private static readonly HashSet<string> FrontEndOnly = ["Arange"];

    /// <summary>Whether a row's first word names an op the front end makes without any backend member.</summary>
    public static bool IsFrontEndOnly(string rowName) => FrontEndOnly.Contains(rowName.Split(' ', 2)[0]);

    /// <summary>The members a row exercises, from the first word of its name: a member's own name ("MatMul ...",
    /// "IndexSelect ..."), a UnaryOp or BinaryOp ("Exp ..." is <see cref="IBackend.Unary"/>, "Add ..."
    /// <see cref="IBackend.Binary"/>), or an alias ("Concat" copies, "AvgPool2d" pools). Empty when none matches:
    /// such a row must name its members with <see cref="OpRow.Ops"/>.</summary>
    public static string[] OpsNamed(string rowName)
    {
        string first = rowName.Split(' ', 2)[0];
        if (Ops.Contains(first)) return [first];
        if (Enum.GetNames<UnaryOp>().Contains(first)) return [nameof(IBackend.Unary)];
        if (Enum.GetNames<BinaryOp>().Contains(first)) return [nameof(IBackend.Binary)];
        return Aliases.TryGetValue(first, out var ops) ? [.. ops.Where(Ops.Contains)] : [];
    }
}
