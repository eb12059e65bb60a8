using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Attention;

/// <summary>One (batch entry, kv head) of an attention problem: its query rows are the queries of the
/// <see cref="FlashPlan.Group"/> query heads that share the kv head, head-major (row = g * Sq + s), so that decode
/// (Sq = 1) under GQA still fills a tile. Query s sits at key position QueryPos + s.</summary>
internal readonly record struct AttnUnit(int Batch, int KvHead, int Skv, int Sq, int QueryPos);

/// <summary>Where the rows of K and V of a unit live: a contiguous tensor or the blocks of a paged cache.</summary>
internal abstract unsafe class KvRows
{
    /// <summary>Stride between the D elements of a key row, in elements.</summary>
    public abstract long KStrideD { get; }
    /// <summary>Stride between the D elements of a value row, in elements.</summary>
    public abstract long VStrideD { get; }
    /// <summary>Address of key row j of the unit.</summary>
    public abstract float* K(in AttnUnit u, int j);
    /// <summary>Address of value row j of the unit.</summary>
    public abstract float* V(in AttnUnit u, int j);

    /// <summary>Asks the caches for key (or value) rows [j, j + count) of the unit, <paramref name="d"/> elements each,
    /// without reading them (a hint: nothing is returned, no fault is possible; count &lt;= 0 asks for nothing). Rows whose
    /// elements are not contiguous are left alone.</summary>
    public virtual void Prefetch(in AttnUnit u, int j, int count, bool key, int d)
    {
        if ((key ? KStrideD : VStrideD) != 1) return;
        for (int r = j; r < j + count; r++) PrefetchLines(key ? K(u, r) : V(u, r), (long)d * sizeof(float));
    }

    /// <summary>prefetcht0 of every 64-byte line of [p, p + bytes).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    protected static void PrefetchLines(void* p, long bytes)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        for (long b = 0; b < bytes; b += 64) System.Runtime.Intrinsics.X86.Sse.Prefetch0((byte*)p + b);
    }
}

/// <summary>A strided 4-D f32 view [B, H, S, X] as base address and strides, for q, dst, the mask and lse.</summary>
internal readonly unsafe struct View4(float* @base, long sb, long sh, long ss, long sx)
{
    public readonly float* Base = @base;
    public readonly long SB = sb, SH = sh, SS = ss, SX = sx;
    public float* At(int b, int h, int s) => Base + b * SB + h * SH + s * SS;
}

/// <summary>Everything the flash kernel needs besides K/V: q [B, Hq, Sq, D], dst, optional lse [B, Hq, Sq]
/// (SX unused) and additive mask [B, Hq, Sq, Skv] (broadcast views allowed), in the log2 domain.</summary>
internal sealed unsafe class FlashPlan
{
    public required int D { get; init; }
    public required int Group { get; init; }
    public required View4 Q { get; init; }
    public required View4 O { get; init; }
    public View4? Lse { get; init; }
    public View4? Mask { get; init; }
    /// <summary>The softmax scale times log2 e: scores are kept in log2 units so the exponential is 2^x.</summary>
    public required float Scale2 { get; init; }
    public required bool Causal { get; init; }
    public required int WindowLeft { get; init; }
    public required int WindowRight { get; init; }
}

/// <summary>CPU flash attention (FlashAttention-2's forward, transposed for SIMD): per tile of Br query rows the
/// scores S^T = K Q^T are computed Bc keys at a time into an L1/L2-sized buffer, the online softmax keeps a
/// running max m and sum l per query (queries in the vector lanes), and O^T += V^T P^T accumulates in a [D x Br]
/// buffer rescaled by 2^(m_old - m_new). K and V are packed once per (batch, kv head) into the kernel's A panels
/// (K: [Skv/8][D][8], V^T: [D/8][Skv][8]); the packed copy is the only buffer that grows with S, and heads are
/// processed in groups so that it stays under <see cref="PackBudgetBytes"/>. Tiles that the causal/window limits
/// hide completely are skipped; tiles they hide partly are masked per element. Units with few query rows (decode) skip
/// the packing and take <see cref="DecodeAttention"/>.</summary>
internal static unsafe partial class FlashAttention
{
    // Bc = 256 measured faster than 64 and 128 at S = 1024 (fewer softmax/rescale rounds per key); the score tile
    // (Bc x Br f32 = 64 KB) then lives in L2 beside the 64 KB K and V^T tiles.
    public const int Br = 64, Bc = 256;
    private const long PackBudgetBytes = 32L << 20;
    private const float Log2E = 1.4426950408889634f, Ln2 = 0.6931471805599453f;

    /// <summary>Native bytes held by attention scratch now, and the most held since the last reset.</summary>
    public static long CurrentBytes => Volatile.Read(ref s_current);
    public static long PeakBytes => Volatile.Read(ref s_peak);
    private static long s_current, s_peak;

    public static void ResetPeak() => Volatile.Write(ref s_peak, Volatile.Read(ref s_current));

    // Freed scratch is kept for the next call (up to PoolCapBytes): a fresh multi-megabyte native block is mapped
    // by the OS page by page on first touch, and at S = 197 those faults cost as much as the arithmetic.
    private const long PoolCapBytes = 48L << 20;
    private static readonly List<(nint Ptr, long Bytes)> s_pool = [];
    private static long s_pooled;

    /// <summary>A 64-byte aligned block of at least <paramref name="bytes"/>, reused from earlier calls when one fits.</summary>
    internal static void* Alloc(long bytes)
    {
        bytes = Math.Max(bytes, 64);
        long now = Interlocked.Add(ref s_current, bytes);
        long peak;
        while (now > (peak = Volatile.Read(ref s_peak)) && Interlocked.CompareExchange(ref s_peak, now, peak) != peak) { }
        lock (s_pool)
        {
            int best = -1;
            for (int i = 0; i < s_pool.Count; i++)
                if (s_pool[i].Bytes >= bytes && (best < 0 || s_pool[i].Bytes < s_pool[best].Bytes)) best = i;
            if (best >= 0)
            {
                var (ptr, size) = s_pool[best];
                s_pool.RemoveAt(best);
                s_pooled -= size;
                s_sizes[ptr] = size;
                return (void*)ptr;
            }
        }
        void* p = NativeMemory.AlignedAlloc((nuint)bytes, 64);
        lock (s_pool) s_sizes[(nint)p] = bytes;
        return p;
    }

    /// <summary>Returns a block from <see cref="Alloc"/> to the pool (the largest are kept, up to PoolCapBytes).</summary>
    internal static void Free(void* p, long bytes)
    {
        Interlocked.Add(ref s_current, -Math.Max(bytes, 64));
        lock (s_pool)
        {
            long size = s_sizes[(nint)p];
            s_sizes.Remove((nint)p);
            s_pool.Add(((nint)p, size));
            s_pooled += size;
            while (s_pooled > PoolCapBytes && s_pool.Count > 0)
            {
                int small = 0;
                for (int i = 1; i < s_pool.Count; i++) if (s_pool[i].Bytes < s_pool[small].Bytes) small = i;
                NativeMemory.AlignedFree((void*)s_pool[small].Ptr);
                s_pooled -= s_pool[small].Bytes;
                s_pool.RemoveAt(small);
            }
        }
    }

    private static readonly Dictionary<nint, long> s_sizes = [];

    private static int Round8(int n) => (n + 7) & ~7;

    /// <summary>Runs every unit; rows of a unit past its Sq are left untouched. Units with few query rows (decode)
    /// read K and V in place (<see cref="DecodeAttention"/>); the others are packed and tiled. Which path a unit takes
    /// depends on that unit alone, so its result does not depend on the rest of the call.</summary>
    public static void Run(FlashPlan plan, KvRows kv, AttnUnit[] units, int threads)
    {
        var few = Array.FindAll(units, u => DecodeAttention.Takes(plan, u));
        if (few.Length > 0) DecodeAttention.Run(plan, kv, few, threads);
        if (few.Length < units.Length) RunTiled(plan, kv, Array.FindAll(units, u => !DecodeAttention.Takes(plan, u)), threads);
    }

    /// <summary>Runs every unit through the packed, tiled kernel.</summary>
    internal static void RunTiled(FlashPlan plan, KvRows kv, AttnUnit[] units, int threads)
    {
        int d = plan.D, dp = Round8(d);
        int start = 0;
        while (start < units.Length)
        {
            // The next group of units whose packed K/V fits the budget (at least one unit).
            long bytes = 0;
            int end = start;
            while (end < units.Length)
            {
                long b = PackedFloats(units[end], d, dp) * 4;
                if (end > start && bytes + b > PackBudgetBytes) break;
                bytes += b; end++;
            }
            RunGroup(plan, kv, units.AsSpan(start, end - start).ToArray(), threads, bytes);
            start = end;
        }
    }

    private static long PackedFloats(in AttnUnit u, int d, int dp) => (long)Round8(u.Skv) * (d + dp);

    private static void RunGroup(FlashPlan plan, KvRows kv, AttnUnit[] units, int threads, long bytes)
    {
        int d = plan.D, dp = Round8(d);
        var offsets = new long[units.Length];
        long off = 0;
        for (int i = 0; i < units.Length; i++) { offsets[i] = off; off += PackedFloats(units[i], d, dp); }
        float* pack = (float*)Alloc(bytes);
        try
        {
            // Phase 1: pack K and V of every unit (2 tasks a unit).
            Dynamic(units.Length * 2, threads, 0, (t, _) =>
            {
                var u = units[t >> 1];
                float* kp = pack + offsets[t >> 1];
                if ((t & 1) == 0) PackK(kv, u, d, kp);
                else PackV(kv, u, d, dp, kp + (long)Round8(u.Skv) * d);
            });
            // Phase 2: the query tiles; the last tiles of a causal unit see the most keys, so they go first.
            var tiles = new List<(int Unit, int Row0)>();
            for (int i = 0; i < units.Length; i++)
            {
                int rows = plan.Group * units[i].Sq;
                if (rows == 0) continue; // a sequence without new queries (paged attention's queryLens 0): no tile
                for (int r0 = ((rows - 1) / Br) * Br; r0 >= 0; r0 -= Br) tiles.Add((i, r0));
            }
            long scratchFloats = (long)d * Br + (long)Bc * Br + (long)dp * Br + 4 * Br;
            Dynamic(tiles.Count, threads, scratchFloats * 4 + 4 * Br * 4, (t, scratch) =>
            {
                var (i, r0) = tiles[t];
                var u = units[i];
                float* kp = pack + offsets[i];
                Tile(plan, u, r0, kp, kp + (long)Round8(u.Skv) * d, (float*)scratch);
            });
        }
        finally { Free(pack, bytes); }
    }

    /// <summary>Runs body(task, scratch) for tasks [0, count) on up to <paramref name="threads"/> workers that take
    /// the next task as they finish one (causal tiles differ in cost); each worker owns one scratch buffer.</summary>
    internal static void Dynamic(int count, int threads, long scratchBytes, Action<int, nint> body)
    {
        int workers = Math.Clamp(Math.Min(threads, count), 1, 256);
        int next = -1;
        void Work()
        {
            void* scratch = scratchBytes > 0 ? Alloc(scratchBytes) : null;
            try
            {
                int t;
                while ((t = Interlocked.Increment(ref next)) < count) body(t, (nint)scratch);
            }
            finally { if (scratch != null) Free(scratch, scratchBytes); }
        }
        if (workers == 1) Work();
        else CpuParallel.Run(workers, workers, _ => Work());
    }

    private static void PackK(KvRows kv, in AttnUnit u, int d, float* dst)
    {
        long sd = kv.KStrideD;
        int n8 = Round8(u.Skv);
        float** rows = stackalloc float*[8];
        for (int j0 = 0; j0 < n8; j0 += 8)
        {
            float* blk = dst + (long)j0 * d;
            if (sd == 1 && j0 + 8 <= u.Skv)
            {
                for (int i = 0; i < 8; i++) rows[i] = kv.K(u, j0 + i);
                if (Transpose8.TryRows(rows, d, blk, 8, 1f)) continue;
            }
            for (int jj = 0; jj < 8; jj++)
            {
                int j = j0 + jj;
                float* o = blk + jj;
                if (j >= u.Skv) { for (int c = 0; c < d; c++) o[c * 8] = 0; continue; }
                float* row = kv.K(u, j);
                if (sd == 1)
                    for (int c = 0; c < d; c++) o[c * 8] = row[c];
                else
                    for (int c = 0; c < d; c++) o[c * 8] = row[c * sd];
            }
        }
    }

    private static void PackV(KvRows kv, in AttnUnit u, int d, int dp, float* dst)
    {
        long sd = kv.VStrideD;
        int n8 = Round8(u.Skv);
        for (int j = 0; j < n8; j++)
        {
            float* row = j < u.Skv ? kv.V(u, j) : null;
            for (int c0 = 0; c0 < dp; c0 += 8)
            {
                float* o = dst + (long)c0 * n8 + (long)j * 8;
                if (row != null && sd == 1 && c0 + 8 <= d && Vector256.IsHardwareAccelerated)
                    Vector256.Store(Vector256.Load(row + c0), o);
                else
                    for (int c = 0; c < 8; c++) o[c] = row != null && c0 + c < d ? row[(c0 + c) * sd] : 0f;
            }
        }
    }
}
