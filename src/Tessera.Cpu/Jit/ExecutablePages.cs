using System.Runtime.InteropServices;

namespace Tessera.Cpu.Jit;

/// <summary>The OS calls behind <see cref="ExecutableCode"/>: mmap / mprotect / munmap from libc on Linux,
/// VirtualAlloc / VirtualProtect / VirtualFree on Windows. Failures come back as a reason, not an exception.</summary>
internal static partial class ExecutablePages
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapPrivate = 2, MapAnonymous = 0x20;
    private const uint MemCommit = 0x1000, MemReserve = 0x2000, MemRelease = 0x8000, PageReadWrite = 4, PageExecuteRead = 0x20;

    /// <summary>Fresh zeroed read-write pages, or 0 with the reason.</summary>
    public static nint MapWritable(nuint size, out string? reason)
    {
        reason = null;
        nint p;
        if (OperatingSystem.IsLinux())
        {
            p = Mmap(0, size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            if (p == -1) { reason = $"mmap of {size} bytes failed (errno {Marshal.GetLastPInvokeError()})"; return 0; }
            return p;
        }
        if (OperatingSystem.IsWindows())
        {
            p = VirtualAlloc(0, size, MemCommit | MemReserve, PageReadWrite);
            if (p == 0) reason = $"VirtualAlloc of {size} bytes failed (error {Marshal.GetLastPInvokeError()})";
            return p;
        }
        reason = "executable memory is implemented for Linux and Windows only";
        return 0;
    }

    /// <summary>Switches written pages to read-execute; false with the reason where the policy refuses.</summary>
    public static bool MakeExecutable(nint p, nuint size, out string? reason)
    {
        reason = null;
        if (OperatingSystem.IsLinux())
        {
            if (Mprotect(p, size, ProtRead | ProtExec) == 0) return true;
            reason = $"mprotect(PROT_READ | PROT_EXEC) refused (errno {Marshal.GetLastPInvokeError()}: a W^X or SELinux execmem policy?)";
            return false;
        }
        if (OperatingSystem.IsWindows() && VirtualProtect(p, size, PageExecuteRead, out _) != 0)
        {
            // x86 keeps instruction fetch coherent with stores; the call is what the platform documents all the same.
            FlushInstructionCache(GetCurrentProcess(), p, size);
            return true;
        }
        reason = $"VirtualProtect(PAGE_EXECUTE_READ) refused (error {Marshal.GetLastPInvokeError()})";
        return false;
    }

    public static void Unmap(nint p, nuint size)
    {
        if (OperatingSystem.IsLinux()) Munmap(p, size);
        else if (OperatingSystem.IsWindows()) VirtualFree(p, 0, MemRelease);
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint addr, nuint length, int prot);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint addr, nuint length);

    [LibraryImport("kernel32", SetLastError = true)]
    private static partial nint VirtualAlloc(nint address, nuint size, uint allocationType, uint protect);

    [LibraryImport("kernel32", SetLastError = true)]
    private static partial int VirtualProtect(nint address, nuint size, uint newProtect, out uint oldProtect);

    [LibraryImport("kernel32", SetLastError = true)]
    private static partial int VirtualFree(nint address, nuint size, uint freeType);

    [LibraryImport("kernel32")]
    private static partial int FlushInstructionCache(nint process, nint address, nuint size);

    [LibraryImport("kernel32")]
    private static partial nint GetCurrentProcess();
}
