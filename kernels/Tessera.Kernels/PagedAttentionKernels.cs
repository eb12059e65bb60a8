using ILGPU;

namespace Tessera.Kernels;

// Paged attention: IBackend.PagedAttention's contract. Reference: paged == contiguous attention (NaiveAttention.Run
// on the gathered K/V) and CpuBackend.PagedAttention. The FlashCore online-softmax kernel, reading K/V rows through
// the block tables: token t of sequence n is slot t % blockSize of block blockTables[n, t / blockSize] in the pools
// [numBlocks, Hkv, blockSize, D] (64-bit offsets: a pool may exceed 2^31 elements). One work unit per
// (sequence, kv head, row tile); sequence n has seqLens[n] keys and its first queryLens[n] query rows (all Sq when
// absent), the last tokens, so its first query sits at key position seqLens[n] - queryLens[n] unless
// QueryPosition is given. Rows past a sequence's query length are not written. Lengths are clamped in the kernel
// (to the table's capacity and to Sq) and a block id outside the pool reads zeros, so a bad table can never read or
// write out of bounds; the host checks them first and reports the error.
public static class PagedAttentionKernels
{
    /// <summary>dst [N, Hq, Sq, D] = attention of each sequence's query rows over its paged K/V (see FlashCore).</summary>
    [Kernel(BlockX = FlashCore.Threads, Reference = "NaiveAttention.Run (gathered K/V); CpuBackend.PagedAttention",
        Constants = ["Threads=256", "D<=64:BQ=64,BKV=32,TPR=4", "D<=128:BQ=32,BKV=32,TPR=8", "D<=256:BQ=16,BKV=16,TPR=16", "SharedFloats=10400"])]
    public static void Paged(ArrayView<byte> q, Tensor4 ql, ArrayView<byte> kPool, Tensor4 kl, ArrayView<byte> vPool, Tensor4 vl,
        ArrayView<int> blockTables, ArrayView<int> seqLens, ArrayView<int> queryLens, ArrayView<byte> dst, Tensor4 dl, AttnArgs a)
    {
        // No mask: q stands in for its view (never read: HasMask = 0); no lse, no split: dst stands in for the lse.
        a.HasMask = 0;
        a.HasLse = 0;
        a.Splits = 0;
        FlashCore.Run(true, q, ql, kPool, kl, vPool, vl, q, ql, blockTables, seqLens, queryLens, dst, dl, dst, dl, a);
    }

    /// <summary>The split-K (flash-decoding) form: partial outputs and log-sum-exps of a.Splits key chunks into f32
    /// workspaces [Splits, N, Hq, Sq, D] and [Splits, N, Hq, Sq]; AttentionKernels.Combine (paged = 1) merges them.</summary>
    [Kernel(BlockX = FlashCore.Threads, Reference = "NaiveAttention.Run (gathered K/V); CpuBackend.PagedAttention",
        Constants = ["Threads=256", "D<=64:BQ=64,BKV=32,TPR=4", "D<=128:BQ=32,BKV=32,TPR=8", "D<=256:BQ=16,BKV=16,TPR=16", "SharedFloats=10400"])]
    public static void PagedSplit(ArrayView<byte> q, Tensor4 ql, ArrayView<byte> kPool, Tensor4 kl, ArrayView<byte> vPool, Tensor4 vl,
        ArrayView<int> blockTables, ArrayView<int> seqLens, ArrayView<int> queryLens, ArrayView<byte> part, ArrayView<byte> partLse, AttnArgs a)
    {
        a.HasMask = 0;
        a.HasLse = 0;
        var pl = new Tensor4 { DType = ElementCodes.F32, S0 = (long)a.Hq * a.Sq * a.D, S1 = (long)a.Sq * a.D, S2 = a.D, S3 = 1 };
        var ll = new Tensor4 { DType = ElementCodes.F32, S1 = (long)a.Hq * a.Sq, S2 = a.Sq, S3 = 1 };
        FlashCore.Run(true, q, ql, kPool, kl, vPool, vl, q, ql, blockTables, seqLens, queryLens, part, pl, partLse, ll, a);
    }
}
