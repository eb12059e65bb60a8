using Tessera.Cpu.Attention;

namespace Tessera.Cpu;

// Attention: contiguous (flash) and paged; both run the same kernels (Attention/FlashAttention*.cs: tiles over packed
// K/V; Attention/DecodeAttention.cs: few query rows over K/V in place) and differ only in where K and V rows are read from.
// The KV caches the models use (ContiguousKvCache, PagedKvCache, KvBlockPool) are f32 by default, so F32View copies
// nothing on the decode path; an f16/bf16 cache would be converted whole on every call.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Attention(Tensor q, Tensor k, Tensor v, Tensor? mask, AttentionOptions options, Tensor dst, Tensor? logSumExp)
    {
        if (logSumExp is not null) Check(logSumExp.DType == DType.F32 && logSumExp.IsContiguous, $"attention: logSumExp must be contiguous f32, got {logSumExp.DType.Name()} {logSumExp.Shape}");
        // An f16 cache whose rows are contiguous is read in place (HalfKvRows); other dtypes convert once.
        bool halfKv = IsHalfRows(k) && IsHalfRows(v);
        using var q32 = F32View(q);
        using var k32 = halfKv ? k.Share() : F32View(k);
        using var v32 = halfKv ? v.Share() : F32View(v);
        using var m32 = mask is null ? null : F32View(mask);
        int b = q.Dim(0), hq = q.Dim(1), sq = q.Dim(2), d = q.Dim(3), hkv = k.Dim(1), skv = k.Dim(2);
        int qpos = options.QueryPositionFor(sq, skv);
        var units = new AttnUnit[b * hkv];
        for (int i = 0; i < b; i++)
            for (int g = 0; g < hkv; g++) units[i * hkv + g] = new AttnUnit(i, g, skv, sq, qpos);
        ViaF32(dst, o =>
        {
            var plan = MakePlan(q32, o, m32, logSumExp, options, d, hq / hkv);
            FlashAttention.Run(plan, halfKv ? new HalfDenseKv(k32, v32, d) : new DenseKv(k32, v32), units, Threads);
        });
    }

    /// <inheritdoc/>
    public void PagedAttention(Tensor q, Tensor kPool, Tensor vPool, Tensor blockTables, Tensor seqLens, Tensor? queryLens,
        AttentionOptions options, Tensor dst)
    {
        int n = q.Dim(0), hq = q.Dim(1), sq = q.Dim(2), d = q.Dim(3), hkv = kPool.Dim(1), blockSize = kPool.Dim(2), numBlocks = kPool.Dim(0);
        int maxBlocks = blockTables.Dim(1);
        int[] tables = blockTables.Contiguous().ToArray<int>(), lens = seqLens.ToArray<int>();
        int[]? qlens = queryLens?.ToArray<int>();
        var units = new AttnUnit[n * hkv];
        for (int i = 0; i < n; i++)
        {
            int len = lens[i], ql = qlens?[i] ?? sq;
            Check(len >= 0 && len <= (long)maxBlocks * blockSize, $"paged attention: seqLens[{i}] = {len} does not fit {maxBlocks} blocks of {blockSize} tokens");
            Check(ql >= 0 && ql <= sq && ql <= len, $"paged attention: sequence {i} has {ql} queries, more than q's {sq} rows or its {len} keys");
            for (int t = 0; t < (len + blockSize - 1) / blockSize; t++)
            {
                int blk = tables[i * maxBlocks + t];
                Check(blk >= 0 && blk < numBlocks, $"paged attention: blockTables[{i}, {t}] = {blk} is outside the pool's {numBlocks} blocks");
            }
            for (int g = 0; g < hkv; g++) units[i * hkv + g] = new AttnUnit(i, g, len, ql, options.QueryPosition ?? len - ql);
        }
        bool halfKv = IsHalfRows(kPool) && IsHalfRows(vPool);
        using var q32 = F32View(q);
        using var k32 = halfKv ? kPool.Share() : F32View(kPool);
        using var v32 = halfKv ? vPool.Share() : F32View(vPool);
        ViaF32(dst, o =>
        {
            var plan = MakePlan(q32, o, null, null, options, d, hq / hkv);
            KvRows kv = halfKv ? new HalfPagedKv(k32, v32, tables, maxBlocks, blockSize, d) : new PagedKv(k32, v32, tables, maxBlocks, blockSize);
            FlashAttention.Run(plan, kv, units, Threads);
        });
    }

    /// <summary>Whether t is f16 [.., D] with contiguous rows: read in place through <see cref="HalfKvRows"/>.</summary>
    private static bool IsHalfRows(Tensor t) => t.DType == DType.F16 && t.Rank == 4 && t.Strides[^1] == 1;

    /// <summary>f32 tensors pass as they are (any strides); f16/bf16 are converted once into a contiguous f32 copy.</summary>
    private static Tensor F32View(Tensor t) => t.DType == DType.F32 ? t.Share() : t.To(DType.F32);

    private static View4 View(Tensor t) => new(Ptr<float>(t), t.Strides[0], t.Strides[1], t.Strides[2], t.Rank > 3 ? t.Strides[3] : 1);

    private static FlashPlan MakePlan(Tensor q, Tensor o, Tensor? mask, Tensor? lse, AttentionOptions options, int d, int group) => new()
    {
        D = d,
        Group = group,
        Q = View(q),
        O = View(o),
        Lse = lse is null ? null : View(lse),
        Mask = mask is null ? null : View(mask),
        Scale2 = options.ScaleFor(d) * 1.4426950408889634f,
        Causal = options.Causal,
        WindowLeft = options.WindowLeft,
        WindowRight = options.WindowRight,
    };

    /// <summary>K and V as [B, Hkv, Skv, D] strided views.</summary>
    private sealed class DenseKv(Tensor k, Tensor v) : KvRows
    {
        private readonly View4 _k = View(k), _v = View(v);
        public override long KStrideD => _k.SX;
        public override long VStrideD => _v.SX;
        public override float* K(in AttnUnit u, int j) => _k.At(u.Batch, u.KvHead, j);
        public override float* V(in AttnUnit u, int j) => _v.At(u.Batch, u.KvHead, j);
    }

    /// <summary>f16 K and V as [B, Hkv, Skv, D] views with contiguous rows, widened row by row.</summary>
    private sealed class HalfDenseKv(Tensor k, Tensor v, int d) : HalfKvRows(d)
    {
        private readonly HalfView4 _k = new(k), _v = new(v);
        protected override Half* KHalf(in AttnUnit u, int j) => _k.At(u.Batch, u.KvHead, j);
        protected override Half* VHalf(in AttnUnit u, int j) => _v.At(u.Batch, u.KvHead, j);
    }

    /// <summary>f16 K and V rows found through a sequence's block table in [numBlocks, Hkv, blockSize, D] pools.</summary>
    private sealed class HalfPagedKv(Tensor k, Tensor v, int[] tables, int maxBlocks, int blockSize, int d) : HalfKvRows(d)
    {
        private readonly HalfView4 _k = new(k), _v = new(v);
        protected override Half* KHalf(in AttnUnit u, int j) => _k.At(tables[u.Batch * maxBlocks + j / blockSize], u.KvHead, j % blockSize);
        protected override Half* VHalf(in AttnUnit u, int j) => _v.At(tables[u.Batch * maxBlocks + j / blockSize], u.KvHead, j % blockSize);
    }

    /// <summary>Row addresses of an f16 [B, H, S, D] view.</summary>
    private readonly struct HalfView4(Tensor t)
    {
        private readonly Half* _base = Ptr<Half>(t);
        private readonly long _sb = t.Strides[0], _sh = t.Strides[1], _ss = t.Strides[2];
        public Half* At(int b, int h, int s) => _base + b * _sb + h * _sh + s * _ss;
    }

    /// <summary>K and V rows found through a sequence's block table in [numBlocks, Hkv, blockSize, D] pools.</summary>
    private sealed class PagedKv(Tensor k, Tensor v, int[] tables, int maxBlocks, int blockSize) : KvRows
    {
        private readonly View4 _k = View(k), _v = View(v);
        public override long KStrideD => _k.SX;
        public override long VStrideD => _v.SX;
        public override float* K(in AttnUnit u, int j) => _k.At(tables[u.Batch * maxBlocks + j / blockSize], u.KvHead, j % blockSize);
        public override float* V(in AttnUnit u, int j) => _v.At(tables[u.Batch * maxBlocks + j / blockSize], u.KvHead, j % blockSize);
    }
}
