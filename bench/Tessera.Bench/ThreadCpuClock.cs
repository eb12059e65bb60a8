using System.Runtime.InteropServices;

namespace Tessera.Bench;

/// <summary>The calling thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID). On a machine shared with other work, the
/// wall-clock time of a single-threaded run includes the slices other processes took; its thread CPU time does not,
/// so a single-threaded kernel's rate and two engines' ratio can still be read under load.</summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec ts);

    /// <summary>Whether the clock can be read here (Linux).</summary>
    public static bool Available => OperatingSystem.IsLinux();

    /// <summary>This thread's CPU time so far in milliseconds, or NaN where the clock cannot be read.</summary>
    public static double NowMsOrNaN() => Available && ClockGetTime(ClockThreadCpuTimeId, out var ts) == 0 ? ts.Seconds * 1e3 + ts.Nanoseconds * 1e-6 : double.NaN;

    /// <summary>This thread's CPU time so far, in milliseconds.</summary>
    public static double NowMs()
    {
        if (ClockGetTime(ClockThreadCpuTimeId, out var ts) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return ts.Seconds * 1e3 + ts.Nanoseconds * 1e-6;
    }
}
