using ILGPU;

namespace Tessera.Kernels;

// Top-k along the last axis: the k first elements of each row in the order "largest first" (or "smallest first"),
// ties broken by the lower index (ONNX TopK's rule), NaN ordered above every number (so first when largest, last
// when smallest), values in x's dtype (raw copies of the chosen elements) and i32 indices. Reference:
// CpuBackend.TopK and NaiveOps.TopK.
//
// Every element becomes a 64-bit key whose unsigned order is the value order (SortKey: floats by the usual sign-flip
// of their bits, NaN made one canonical value above +inf and -0 made +0, so they tie as the CPU's comparison does;
// integers by flipping the sign bit), so every plain dtype, i64 past 2^53 included, sorts exactly with one compare.
// (key, index) pairs with the tie rule form a strict total order (indices are distinct), which every kernel uses:
// - Sort, for rows of at most MaxSort elements: one block a row (grid-stride over rows) loads the row into shared
//   memory, pads it to a power of two with entries that order after every real one, bitonic-sorts it (one pair
//   per thread per step, a barrier between steps) and writes the first k. O(n log^2 n) per row, any k <= n.
// - Select, for longer rows (a vocabulary of logits) and small k: k passes over the row; pass p finds, by a block
//   reduction, the first element in the order that comes after the one pass p - 1 found. O(k n) per row.
// - GlobalInit, GlobalStep, GlobalWrite, for longer rows and larger k (an argsort for top-p sampling): the same
//   bitonic network over (key, index) pairs in a device scratch buffer [rows, P] (P = n rounded up to a power of
//   two), one launch per compare-exchange step, one thread per pair across all rows, so every SM takes part:
//   log2(P) (log2(P) + 1) / 2 launches, O(n log^2 n) work.
// The host picks Sort when n <= MaxSort, else Select for k <= SelectMaxK, else the global network. Rows are
// addressed like the softmax's: a StridedLayout over the leading axes plus a stride along the row, so x may be any
// strided view of any plain dtype.
public static class TopKKernels
{
    /// <summary>Longest row Sort takes: 2048 (key, index) pairs are 24 KB of shared memory (ILGPU's cap is 48 KB).</summary>
    public const int MaxSort = 2048;

    /// <summary>Largest k for which the host takes Select on a row longer than MaxSort (k passes over the row cost
    /// less than the global sort's log^2 launches up to about here).</summary>
    public const int SelectMaxK = 16;

    /// <summary>Whether (ka, ia) comes before (kb, ib) in the output of a row of n. An index at or past n marks a
    /// padding or empty entry, which comes after every real one.</summary>
    public static bool Before(int largest, int n, ulong ka, int ia, ulong kb, int ib)
    {
        bool pa = ia >= n, pb = ib >= n;
        if (pa || pb) return pb && (!pa || ia < ib);
        if (ka != kb) return largest != 0 ? ka > kb : ka < kb;
        return ia < ib;
    }

    /// <summary>The order-preserving key of element i of buf.</summary>
    public static ulong SortKey(ArrayView<byte> buf, int dtype, long i)
    {
        if (dtype <= ElementCodes.BF16)
        {
            float v = ElementIO.LoadF(buf, dtype, i);
            uint bits = ElementMath.IsNaN(v) ? 0x7FC00000u : v == 0f ? 0u : Interop.FloatAsInt(v);
            return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
        }
        long l = dtype == ElementCodes.I64 ? buf.Cast<long>()[i] : dtype == ElementCodes.I32 ? buf.Cast<int>()[i]
            : dtype == ElementCodes.I8 ? (sbyte)buf[i] : buf[i];
        return (ulong)l ^ 0x8000000000000000UL;
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.TopK", Constants = ["MaxSort=2048"])]
    public static void Sort(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<byte> values, StridedLayout vl, long vIn,
        ArrayView<int> indices, long iOffset, long rows, int n, int k, int largest)
    {
        var keys = SharedMemory.Allocate<ulong>(MaxSort);
        var idx = SharedMemory.Allocate<int>(MaxSort);
        int tid = Group.IdxX, step = Group.DimX;
        int p2 = 1;
        while (p2 < n) p2 *= 2;
        int size = ElementIO.SizeOf(xl.DType);
        for (long r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long xo = xl.OffsetOf(r);
            for (int i = tid; i < p2; i += step)
            {
                keys[i] = i < n ? SortKey(x, xl.DType, xo + i * xIn) : 0UL;
                idx[i] = i;
            }
            Group.Barrier();
            for (int span = 2; span <= p2; span *= 2)
                for (int half = span / 2; half > 0; half /= 2)
                {
                    for (int i = tid; i < p2; i += step)
                    {
                        int j = i ^ half;
                        if (j <= i) continue;
                        ulong ki = keys[i], kj = keys[j];
                        int ii = idx[i], ij = idx[j];
                        // Segments with bit `span` clear end in output order, the others in reverse.
                        bool swap = (i & span) == 0 ? Before(largest, n, kj, ij, ki, ii) : Before(largest, n, ki, ii, kj, ij);
                        if (swap) { keys[i] = kj; keys[j] = ki; idx[i] = ij; idx[j] = ii; }
                    }
                    Group.Barrier();
                }
            long vo = vl.OffsetOf(r);
            for (int j = tid; j < k; j += step)
            {
                int at = idx[j];
                indices[iOffset + r * k + j] = at;
                ElementIO.CopyRaw(x, xo + at * xIn, values, vo + j * vIn, size);
            }
            Group.Barrier(); // the next row reuses the shared arrays
        }
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.TopK")]
    public static void Select(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<byte> values, StridedLayout vl, long vIn,
        ArrayView<int> indices, long iOffset, long rows, int n, int k, int largest)
    {
        var sv = SharedMemory.Allocate<ulong>(32);
        var si = SharedMemory.Allocate<int>(32);
        int tid = Group.IdxX, step = Group.DimX;
        int size = ElementIO.SizeOf(xl.DType);
        for (long r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long xo = xl.OffsetOf(r), vo = vl.OffsetOf(r);
            ulong pv = 0;
            int pi = -1; // no previous pick yet
            for (int p = 0; p < k; p++)
            {
                ulong bv = 0;
                int bi = int.MaxValue;
                for (int i = tid; i < n; i += step)
                {
                    ulong v = SortKey(x, xl.DType, xo + i * xIn);
                    if ((pi < 0 || Before(largest, n, pv, pi, v, i)) && Before(largest, n, v, i, bv, bi)) { bv = v; bi = i; }
                }
                WarpBest(largest, n, ref bv, ref bi);
                if (Warp.LaneIdx == 0) { sv[Warp.WarpIdx] = bv; si[Warp.WarpIdx] = bi; }
                Group.Barrier();
                int warps = (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
                bv = Warp.LaneIdx < warps ? sv[Warp.LaneIdx] : 0UL;
                bi = Warp.LaneIdx < warps ? si[Warp.LaneIdx] : int.MaxValue;
                WarpBest(largest, n, ref bv, ref bi);
                Group.Barrier(); // every warp has read the slots before they are reused
                pv = bv;
                pi = bi;
                if (tid == 0)
                {
                    indices[iOffset + r * k + p] = bi;
                    ElementIO.CopyRaw(x, xo + bi * xIn, values, vo + p * vIn, size);
                }
            }
        }
    }

    // Butterfly over the warp keeping the pair that comes first; every lane ends with it.
    private static void WarpBest(int largest, int n, ref ulong v, ref int i)
    {
        Take(largest, n, ref v, ref i, 16);
        Take(largest, n, ref v, ref i, 8);
        Take(largest, n, ref v, ref i, 4);
        Take(largest, n, ref v, ref i, 2);
        Take(largest, n, ref v, ref i, 1);
    }

    private static void Take(int largest, int n, ref ulong v, ref int i, int mask)
    {
        // Shuffled as two 32-bit halves (a shuffle moves one register).
        uint lo = Warp.ShuffleXor((uint)v, mask), hi = Warp.ShuffleXor((uint)(v >> 32), mask);
        ulong ov = (ulong)hi << 32 | lo;
        int oi = Warp.ShuffleXor(i, mask);
        if (Before(largest, n, ov, oi, v, i)) { v = ov; i = oi; }
    }

    /// <summary>Loads every row into the scratch pairs (keys [rows, p2], idx [rows, p2]), padding past n.</summary>
    [Kernel(BlockX = 256, Reference = "CpuBackend.TopK")]
    public static void GlobalInit(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<ulong> keys, ArrayView<int> idx,
        long rows, int n, int p2)
    {
        long total = rows * p2;
        for (long t = (long)Grid.IdxX * Group.DimX + Group.IdxX; t < total; t += (long)Grid.DimX * Group.DimX)
        {
            long r = t / p2;
            int i = (int)(t - r * p2);
            keys[t] = i < n ? SortKey(x, xl.DType, xl.OffsetOf(r) + i * xIn) : 0UL;
            idx[t] = i;
        }
    }

    /// <summary>One compare-exchange step (merge size <paramref name="span"/>, distance <paramref name="half"/>) of the
    /// bitonic network, over every row's p2 / 2 pairs.</summary>
    [Kernel(BlockX = 256, Reference = "CpuBackend.TopK", Constants = ["SelectMaxK=16"])]
    public static void GlobalStep(ArrayView<ulong> keys, ArrayView<int> idx, long rows, int n, int p2, int span, int half, int largest)
    {
        int pairsPerRow = p2 / 2;
        long total = rows * pairsPerRow;
        for (long q = (long)Grid.IdxX * Group.DimX + Group.IdxX; q < total; q += (long)Grid.DimX * Group.DimX)
        {
            long r = q / pairsPerRow;
            int j = (int)(q - r * pairsPerRow);
            int i = j / half * 2 * half + j % half; // the lower element of pair j
            long a = r * p2 + i, b = a + half;
            ulong ka = keys[a], kb = keys[b];
            int ia = idx[a], ib = idx[b];
            bool swap = (i & span) == 0 ? Before(largest, n, kb, ib, ka, ia) : Before(largest, n, ka, ia, kb, ib);
            if (swap) { keys[a] = kb; keys[b] = ka; idx[a] = ib; idx[b] = ia; }
        }
    }

    /// <summary>The first k sorted pairs of each row out: indices and raw copies of the chosen elements.</summary>
    [Kernel(BlockX = 256, Reference = "CpuBackend.TopK")]
    public static void GlobalWrite(ArrayView<byte> x, StridedLayout xl, long xIn, ArrayView<int> idx, ArrayView<byte> values,
        StridedLayout vl, long vIn, ArrayView<int> indices, long iOffset, long rows, int p2, int k)
    {
        int size = ElementIO.SizeOf(xl.DType);
        long total = rows * k;
        for (long t = (long)Grid.IdxX * Group.DimX + Group.IdxX; t < total; t += (long)Grid.DimX * Group.DimX)
        {
            long r = t / k;
            int j = (int)(t - r * k);
            int at = idx[r * p2 + j];
            indices[iOffset + t] = at;
            ElementIO.CopyRaw(x, xl.OffsetOf(r) + at * xIn, values, vl.OffsetOf(r) + j * vIn, size);
        }
    }
}
