using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Tessera.Cpu;

/// <summary>Splits work over a fixed number of threads: the calling thread and up to threads - 1 dedicated workers
/// of one process-wide pool. A worker spins for a short while after each job, then blocks; the ThreadPool that
/// Parallel.For uses takes tens of microseconds to wake a thread, which at 1-millisecond ops left one core idle
/// for a noticeable share of the op (or made the caller run both halves alone).
/// Rules: one job at a time; a call made while the pool is busy (another thread, another backend) or from inside
/// a job (nested) runs inline on its own thread; the first exception of a job is rethrown to the caller after
/// every part has stopped; the workers exit when the last <see cref="CpuBackend"/> is disposed (and come back
/// on the next parallel call). Small jobs run inline: a hand-off costs a few microseconds.</summary>
internal static class CpuParallel
{
    /// <summary>Calls body(start, end) over [0, count) in up to <paramref name="threads"/> contiguous chunks,
    /// using one chunk when the whole job is under <paramref name="minPerThread"/> items a thread.</summary>
    public static void For(long count, int threads, long minPerThread, Action<long, long> body)
    {
        if (count <= 0) return;
        int chunks = (int)Math.Clamp(count / Math.Max(minPerThread, 1), 1, Math.Max(threads, 1));
        if (chunks == 1) { body(0, count); return; }
        Start(chunks, chunks, null, body, count);
    }

    /// <summary>Calls body(part) for part in [0, parts) on up to <paramref name="threads"/> threads (the caller
    /// included); each thread takes the next part as it finishes one, so parts of unequal cost even out.</summary>
    public static void Run(int parts, int threads, Action<int> body)
    {
        if (parts <= 0) return;
        Start(parts, threads, body, null, 0);
    }

    // ---- the pool ----

    /// <summary>How long an idle worker spins for the next job before it blocks: ops of a model follow each other
    /// within microseconds, and a blocked thread takes 5-50 µs to wake.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    /// <summary>Most helper threads (the state word keeps the helper count in 8 bits).</summary>
    private const int MaxHelpers = 255;

    private static readonly object s_jobLock = new(), s_sleepLock = new();

    // The job in one word, so that a part is claimed with one compare-exchange that also checks the job is still
    // the same: generation (bits 40..63) | helpers allowed (bits 32..39) | next unclaimed part (bits 0..31).
    private static long s_state;
    private static int s_parts, s_pending, s_sleeping, s_workers, s_epoch, s_users;
    private static Action<int>? s_partBody;
    private static Action<long, long>? s_rangeBody;
    private static long s_rangeCount;
    private static Exception? s_error;

    /// <summary>True on pool workers, and on a caller while its job runs: nested calls then run inline.</summary>
    [ThreadStatic] private static bool t_inJob;

    /// <summary>Threads in the pool now (for tests).</summary>
    internal static int WorkerCount => Volatile.Read(ref s_workers);

    /// <summary>A backend was created: the pool may keep workers.</summary>
    internal static void AddUser() => Interlocked.Increment(ref s_users);

    /// <summary>A backend was disposed: with no backend left, the workers exit.</summary>
    internal static void RemoveUser()
    {
        if (Interlocked.Decrement(ref s_users) > 0) return;
        lock (s_jobLock)
        {
            if (Volatile.Read(ref s_users) > 0 || s_workers == 0) return;
            Interlocked.Increment(ref s_epoch);
            s_workers = 0;
            lock (s_sleepLock) Monitor.PulseAll(s_sleepLock);
        }
    }

    private static void Start(int parts, int threads, Action<int>? partBody, Action<long, long>? rangeBody, long count)
    {
        int helpers = Math.Min(Math.Min(threads, parts) - 1, MaxHelpers);
        if (helpers <= 0 || t_inJob || !Monitor.TryEnter(s_jobLock))
        {
            for (int p = 0; p < parts; p++) RunPart(partBody, rangeBody, count, parts, p);
            return;
        }
        try
        {
            t_inJob = true;
            while (s_workers < helpers) StartWorker(s_workers++);
            // Close the previous job first: a worker still inside Claim for it may have read its state word and be
            // about to read s_parts; with the word changed, its compare-exchange fails, so it can never claim a
            // part of this job under the old generation while the fields below are rewritten. The closed word
            // has its own generation (no part claimable), the job the next one.
            long gen = ((Volatile.Read(ref s_state) >>> 40) + 1) & 0xFFFFFF;
            Interlocked.Exchange(ref s_state, (gen << 40) | int.MaxValue);
            s_partBody = partBody; s_rangeBody = rangeBody; s_rangeCount = count;
            s_parts = parts; s_pending = parts; s_error = null;
            gen = (gen + 1) & 0xFFFFFF;
            // The exchange is a full fence: a worker that announces its sleep after this point sees the new state.
            Interlocked.Exchange(ref s_state, (gen << 40) | ((long)helpers << 32));
            if (Volatile.Read(ref s_sleeping) > 0) lock (s_sleepLock) Monitor.PulseAll(s_sleepLock);
            Claim(gen);
            var spin = new SpinWait();
            while (Volatile.Read(ref s_pending) > 0) spin.SpinOnce(sleep1Threshold: -1);
            s_partBody = null; s_rangeBody = null;
            if (s_error is { } e) { s_error = null; ExceptionDispatchInfo.Capture(e).Throw(); }
        }
        finally
        {
            t_inJob = false;
            Monitor.Exit(s_jobLock);
        }
    }

    private static void RunPart(Action<int>? partBody, Action<long, long>? rangeBody, long count, int parts, int p)
    {
        if (rangeBody != null) rangeBody(count * p / parts, count * (p + 1) / parts);
        else partBody!(p);
    }

    /// <summary>Takes and runs parts of job <paramref name="gen"/> until none is left. A successful claim pins the
    /// job: it cannot finish (and its fields cannot be replaced) before this part is counted down.</summary>
    private static void Claim(long gen)
    {
        while (true)
        {
            long s = Volatile.Read(ref s_state);
            if (s >>> 40 != gen || (int)s >= Volatile.Read(ref s_parts)) return;
            if (Interlocked.CompareExchange(ref s_state, s + 1, s) != s) continue;
            try
            {
                if (Volatile.Read(ref s_error) == null) RunPart(s_partBody, s_rangeBody, s_rangeCount, s_parts, (int)s);
            }
            catch (Exception ex) { Interlocked.CompareExchange(ref s_error, ex, null); }
            finally { Interlocked.Decrement(ref s_pending); }
        }
    }

    private static void StartWorker(int index)
    {
        int epoch = Volatile.Read(ref s_epoch);
        long seen = Volatile.Read(ref s_state) >>> 40;
        new Thread(() => WorkerLoop(index, epoch, seen)) { IsBackground = true, Name = $"tessera-cpu-{index + 1}" }.Start();
    }

    private static void WorkerLoop(int index, int epoch, long seen)
    {
        t_inJob = true;
        while (Volatile.Read(ref s_epoch) == epoch)
        {
            long s = Volatile.Read(ref s_state);
            if (s >>> 40 != seen)
            {
                seen = s >>> 40;
                if (index < (int)((s >> 32) & 0xFF)) Claim(seen);
                continue;
            }
            // Idle: spin a little, then block until a job (or the end of this pool's epoch) is announced.
            long until = Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref s_state) >>> 40 == seen && Volatile.Read(ref s_epoch) == epoch && Stopwatch.GetTimestamp() < until)
                Thread.SpinWait(20);
            if (Volatile.Read(ref s_state) >>> 40 != seen) continue;
            lock (s_sleepLock)
            {
                Interlocked.Increment(ref s_sleeping);
                try
                {
                    while (Volatile.Read(ref s_state) >>> 40 == seen && Volatile.Read(ref s_epoch) == epoch)
                        Monitor.Wait(s_sleepLock);
                }
                finally { Interlocked.Decrement(ref s_sleeping); }
            }
        }
    }
}
