using System.Runtime.CompilerServices;
using Tessera.Cpu.Quant;

namespace Tessera.Cpu.Jit;

/// <summary>
/// The process's emitted panel kernels: one per (format, activation rows 2..8), and the one-row (decode) kernels one
/// per (format, block count) (<see cref="DecodePanelKernelEmitter"/>), emitted on first request (thread-safe; a
/// kernel is emitted once and kept, with its pages, for the process) and handed out as entry points through
/// <see cref="PanelKernelSource.Emitted"/>, which this assembly's module initializer sets. 0 means no kernel: no
/// AVX512-VNNI, emission switched off (<see cref="JitSupport"/>), or executable memory refused; the caller then runs
/// the managed kernel. A refusal is remembered (<see cref="Unavailable"/>) and not retried.
/// </summary>
internal static class EmittedPanelKernels
{
    private static readonly object Gate = new();
    // [format index, rows - 1]: format 0 is Q8_0, 1 is Q4_0.
    private static readonly nint[,] Entries = new nint[2, PanelKernelEmitter.MaxRows];
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(DType, int), nint> DecodeEntries = new();
    private static string? _refused;

    /// <summary>Sets <see cref="PanelKernelSource.Emitted"/> when Tessera.Cpu loads (emits nothing yet).</summary>
#pragma warning disable CA2255 // A library's module initializer: the hook must be in place before the backend picks a kernel, whoever touches the assembly first.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => PanelKernelSource.Emitted ??= EntryPoint;

    /// <summary>The kernel for (format, rows, blocks): at one row the decode kernel specialized for
    /// <paramref name="blocks"/> (and the stride <see cref="Q32Panels.PanelBytes"/> of them), else the general one.</summary>
    public static nint EntryPoint(DType t, int rows, int blocks) =>
        rows == 1 && blocks >= 1 ? DecodeEntryPoint(t, blocks) : EntryPoint(t, rows);

    /// <summary>The one-row kernel for <paramref name="t"/> specialized for <paramref name="blocks"/> blocks per row,
    /// emitted on first request; 0 where there is none.</summary>
    public static nint DecodeEntryPoint(DType t, int blocks)
    {
        if (!Q32Panels.IsPanelFormat(t) || blocks < 1) return 0;
        if (DecodeEntries.TryGetValue((t, blocks), out nint e)) return JitSupport.IsSwitchedOff ? 0 : e;
        if (Unavailable != null) return 0;
        lock (Gate)
        {
            if (DecodeEntries.TryGetValue((t, blocks), out e) || _refused != null) return e;
            byte[]? machine = DecodePanelKernelEmitter.Emit(t, blocks, Q32Panels.PanelBytes(t, blocks), OperatingSystem.IsWindows());
            if (machine == null)
            {
                // Too long a row for 32-bit displacements: the general kernel, remembered for this block count.
                e = EntryPoint(t, 1);
                if (e != 0) DecodeEntries[(t, blocks)] = e;
                return e;
            }
            var code = ExecutableCode.TryCreate(machine, out string? reason);
            if (code == null)
            {
                Volatile.Write(ref _refused, reason);
                return 0;
            }
            DecodeEntries[(t, blocks)] = code.Entry;   // the pages stay mapped for the process
            return code.Entry;
        }
    }

    /// <summary>Why no kernel is handed out, or null while kernels are (or may still be) emitted.</summary>
    public static string? Unavailable => JitSupport.PanelKernelsUnavailable() ?? Volatile.Read(ref _refused);

    /// <summary>The entry point of the kernel for <paramref name="t"/> and <paramref name="rows"/> (1..8), emitting it on
    /// first request; 0 where there is none (an unsupported format, rows out of range, or <see cref="Unavailable"/>).</summary>
    public static nint EntryPoint(DType t, int rows)
    {
        if (!Q32Panels.IsPanelFormat(t) || rows is < 1 or > PanelKernelEmitter.MaxRows) return 0;
        int f = t == DType.Q8_0 ? 0 : 1;
        nint e = Volatile.Read(ref Entries[f, rows - 1]);
        if (e != 0) return JitSupport.IsSwitchedOff ? 0 : e;
        if (Unavailable != null) return 0;
        lock (Gate)
        {
            e = Entries[f, rows - 1];
            if (e != 0 || _refused != null) return e;
            var code = ExecutableCode.TryCreate(PanelKernelEmitter.Emit(t, rows, PanelKernelOptions.For(t, rows), OperatingSystem.IsWindows()), out string? reason);
            if (code == null)
            {
                Volatile.Write(ref _refused, reason);
                return 0;
            }
            Volatile.Write(ref Entries[f, rows - 1], code.Entry);   // the pages stay mapped for the process
            return code.Entry;
        }
    }
}
