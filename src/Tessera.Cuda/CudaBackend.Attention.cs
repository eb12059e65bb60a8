using System.Runtime.InteropServices;

namespace Tessera.Cuda;

// Attention and paged attention through the flash kernels (AttentionKernels.Flash, PagedAttentionKernels.Paged: one
// online-softmax core, 256 threads, tiles by head dim, the G query heads of a kv head sharing each K/V tile). q, k,
// v, the mask, the pools and dst are read and written in place through their strides and dtypes (f32, f16, bf16;
// f32 arithmetic). Paged attention checks seqLens, queryLens and the block tables on the host first (a small
// device-to-host copy, which waits for the stream) so that a bad table is an error naming the entry.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc/>
    public void Attention(Tensor q, Tensor k, Tensor v, Tensor? mask, AttentionOptions options, Tensor dst, Tensor? logSumExp)
    {
        ArgumentNullException.ThrowIfNull(options);
        Require(q.Rank == 4 && k.Rank == 4 && v.Rank == 4 && dst.Rank == 4 && k.Shape.Equals(v.Shape) && dst.Shape.Equals(q.Shape),
            $"attention: q {q.Shape}, k {k.Shape}, v {v.Shape} and dst {dst.Shape} must be [B, H, S, D] with k and v alike and dst like q");
        int b = q.Shape[0], hq = q.Shape[1], sq = q.Shape[2], d = q.Shape[3], hkv = k.Shape[1], skv = k.Shape[2];
        Require(k.Shape[0] == b && k.Shape[3] == d && hkv > 0 && hq % hkv == 0,
            $"attention: k {k.Shape} does not fit q {q.Shape} (batch, head dim, and kv heads dividing query heads)");
        Require(d is >= 1 and <= 256, $"attention: head dim {d} is outside 1..256");
        foreach (var t in (ReadOnlySpan<Tensor>)[q, k, v, dst])
            Require(IsPlainFloat(t.DType), $"attention: {t.DType.Name()} {t.Shape} is not f32, f16 or bf16");
        Require(mask is null || (mask.Shape.Equals(new Shape(b, hq, sq, skv)) && IsPlainFloat(mask.DType)),
            $"attention: mask {mask?.DType.Name()} {mask?.Shape} must be a float [B, Hq, Sq, Skv] = [{b}, {hq}, {sq}, {skv}] view");
        Require(logSumExp is null || (logSumExp.DType == DType.F32 && logSumExp.Shape.Equals(new Shape(b, hq, sq))),
            $"attention: logSumExp {logSumExp?.DType.Name()} {logSumExp?.Shape} must be f32 [{b}, {hq}, {sq}]");
        if (dst.ElementCount == 0) return;
        var a = Args(options, b, hq, hkv, sq, skv, d);
        a.HasMask = mask is null ? 0 : 1;
        a.HasLse = logSumExp is null ? 0 : 1;
        var none = KernelArg.View(0, 0);
        long units = Units(b, hq, hkv, sq, d);
        int splits = SplitsFor(units, skv);
        if (splits > 1)
        {
            // Flash-decoding: too few units to fill the GPU and many keys, so each unit's keys are cut into chunks.
            using var part = Tensor.Zeros(this, DType.F32, new Shape(splits, b, hq, sq, d));
            using var partLse = Tensor.Zeros(this, DType.F32, new Shape(splits, b, hq, sq));
            var split = a with { Splits = splits };
            RunBlocks("AttentionKernels.Flash", units * splits,
                WholeView(q), KernelArg.Struct(Tensor4Arg.Of(q)), WholeView(k), KernelArg.Struct(Tensor4Arg.Of(k)),
                WholeView(v), KernelArg.Struct(Tensor4Arg.Of(v)),
                mask is null ? none : WholeView(mask), KernelArg.Struct(mask is null ? default : Tensor4Arg.Of(mask)),
                WholeView(part), KernelArg.Struct(new Tensor4Arg { S0 = (long)hq * sq * d, S1 = (long)sq * d, S2 = d, S3 = 1 }),
                WholeView(partLse), KernelArg.Struct(new Tensor4Arg { S1 = (long)hq * sq, S2 = sq, S3 = 1 }),
                KernelArg.Struct(split));
            Combine(part, partLse, dst, logSumExp, null, null, split);
            return;
        }
        RunBlocks("AttentionKernels.Flash", units,
            WholeView(q), KernelArg.Struct(Tensor4Arg.Of(q)), WholeView(k), KernelArg.Struct(Tensor4Arg.Of(k)),
            WholeView(v), KernelArg.Struct(Tensor4Arg.Of(v)),
            mask is null ? none : WholeView(mask), KernelArg.Struct(mask is null ? default : Tensor4Arg.Of(mask)),
            WholeView(dst), KernelArg.Struct(Tensor4Arg.Of(dst)),
            logSumExp is null ? none : WholeView(logSumExp), KernelArg.Struct(logSumExp is null ? default : Tensor4Arg.Of(logSumExp)),
            KernelArg.Struct(a));
    }

    /// <inheritdoc/>
    public void PagedAttention(Tensor q, Tensor kPool, Tensor vPool, Tensor blockTables, Tensor seqLens, Tensor? queryLens,
        AttentionOptions options, Tensor dst)
    {
        ArgumentNullException.ThrowIfNull(options);
        Require(q.Rank == 4 && kPool.Rank == 4 && kPool.Shape.Equals(vPool.Shape) && dst.Shape.Equals(q.Shape),
            $"paged attention: q {q.Shape} and dst {dst.Shape} must be [N, Hq, Sq, D], both pools [numBlocks, Hkv, blockSize, D], got {kPool.Shape} and {vPool.Shape}");
        int n = q.Shape[0], hq = q.Shape[1], sq = q.Shape[2], d = q.Shape[3];
        int numBlocks = kPool.Shape[0], hkv = kPool.Shape[1], blockSize = kPool.Shape[2];
        Require(kPool.Shape[3] == d && hkv > 0 && hq % hkv == 0 && blockSize > 0,
            $"paged attention: pool {kPool.Shape} does not fit q {q.Shape} (head dim, kv heads dividing query heads)");
        Require(d is >= 1 and <= 256, $"paged attention: head dim {d} is outside 1..256");
        foreach (var t in (ReadOnlySpan<Tensor>)[q, kPool, vPool, dst])
            Require(IsPlainFloat(t.DType), $"paged attention: {t.DType.Name()} {t.Shape} is not f32, f16 or bf16");
        Require(blockTables.DType == DType.I32 && blockTables.Rank == 2 && blockTables.Shape[0] == n && blockTables.IsContiguous,
            $"paged attention: blockTables must be contiguous int32 [{n}, maxBlocks], got {blockTables.DType.Name()} {blockTables.Shape}");
        Require(seqLens.DType == DType.I32 && seqLens.Rank == 1 && seqLens.Shape[0] == n && seqLens.IsContiguous,
            $"paged attention: seqLens must be contiguous int32 [{n}], got {seqLens.DType.Name()} {seqLens.Shape}");
        Require(queryLens is null || (queryLens.DType == DType.I32 && queryLens.Rank == 1 && queryLens.Shape[0] == n && queryLens.IsContiguous),
            $"paged attention: queryLens must be contiguous int32 [{n}], got {queryLens?.DType.Name()} {queryLens?.Shape}");
        int maxBlocks = blockTables.Shape[1];
        if (dst.ElementCount == 0) return;
        CheckPagedTables(blockTables, seqLens, queryLens, n, sq, maxBlocks, blockSize, numBlocks);

        var a = Args(options, n, hq, hkv, sq, 0, d);
        a.HasQueryLens = queryLens is null ? 0 : 1;
        a.MaxBlocks = maxBlocks; a.BlockSize = blockSize; a.NumBlocks = numBlocks;
        long units = Units(n, hq, hkv, sq, d);
        int splits = SplitsFor(units, maxBlocks * blockSize);
        if (splits > 1)
        {
            using var part = Tensor.Zeros(this, DType.F32, new Shape(splits, n, hq, sq, d));
            using var partLse = Tensor.Zeros(this, DType.F32, new Shape(splits, n, hq, sq));
            var split = a with { Splits = splits };
            RunBlocks("PagedAttentionKernels.PagedSplit", units * splits,
                WholeView(q), KernelArg.Struct(Tensor4Arg.Of(q)), WholeView(kPool), KernelArg.Struct(Tensor4Arg.Of(kPool)),
                WholeView(vPool), KernelArg.Struct(Tensor4Arg.Of(vPool)), IntView(blockTables), IntView(seqLens),
                queryLens is null ? IntView(seqLens) : IntView(queryLens), WholeView(part), WholeView(partLse), KernelArg.Struct(split));
            Combine(part, partLse, dst, null, seqLens, queryLens, split);
            return;
        }
        RunBlocks("PagedAttentionKernels.Paged", units,
            WholeView(q), KernelArg.Struct(Tensor4Arg.Of(q)), WholeView(kPool), KernelArg.Struct(Tensor4Arg.Of(kPool)),
            WholeView(vPool), KernelArg.Struct(Tensor4Arg.Of(vPool)), IntView(blockTables), IntView(seqLens),
            queryLens is null ? IntView(seqLens) : IntView(queryLens), WholeView(dst), KernelArg.Struct(Tensor4Arg.Of(dst)),
            KernelArg.Struct(a));
    }

    /// <summary>The host's check of the paged metadata (as CpuBackend.PagedAttention's): each length fits the table
    /// and each block a sequence uses lies in the pool. The kernel clamps as well, so memory stays safe regardless.</summary>
    private static void CheckPagedTables(Tensor blockTables, Tensor seqLens, Tensor? queryLens, int n, int sq, int maxBlocks, int blockSize, int numBlocks)
    {
        int[] tables = blockTables.ToArray<int>(), lens = seqLens.ToArray<int>();
        int[]? qlens = queryLens?.ToArray<int>();
        for (int i = 0; i < n; i++)
        {
            int len = lens[i], ql = qlens?[i] ?? sq;
            Require(len >= 0 && len <= (long)maxBlocks * blockSize, $"paged attention: seqLens[{i}] = {len} does not fit {maxBlocks} blocks of {blockSize} tokens");
            Require(ql >= 0 && ql <= sq && ql <= len, $"paged attention: sequence {i} has {ql} queries, more than q's {sq} rows or its {len} keys");
            for (int t = 0; t < (len + blockSize - 1) / blockSize; t++)
            {
                int blk = tables[i * maxBlocks + t];
                Require(blk >= 0 && blk < numBlocks, $"paged attention: blockTables[{i}, {t}] = {blk} is outside the pool's {numBlocks} blocks");
            }
        }
    }

    private static AttnArgsArg Args(AttentionOptions o, int b, int hq, int hkv, int sq, int skv, int d) => new()
    {
        B = b, Hq = hq, Hkv = hkv, Sq = sq, Skv = skv, D = d,
        HasQueryPos = o.QueryPosition is null ? 0 : 1, QueryPos = o.QueryPosition ?? 0,
        Causal = o.Causal ? 1 : 0, WindowLeft = o.WindowLeft, WindowRight = o.WindowRight, Scale = o.ScaleFor(d),
    };

    /// <summary>Work units of the flash kernels: (batch, kv head, tile of the G * Sq rows of a kv head's query heads),
    /// with FlashCore.Tile's rows a tile (64 for D &lt;= 64, 32 for D &lt;= 128, 16 above).</summary>
    private static long Units(int batch, int hq, int hkv, int sq, int d)
    {
        int bq = d <= 64 ? 64 : d <= 128 ? 32 : 16;
        long rows = (long)(hq / hkv) * sq;
        return (long)batch * hkv * ((rows + bq - 1) / bq);
    }

    /// <summary>Key chunks a unit's keys are cut into (flash-decoding) when the units alone would leave most SMs idle
    /// and there are many keys: enough to give every SM two units, at least 256 keys a chunk, at most 32 chunks.</summary>
    private int SplitsFor(long units, int keys)
    {
        long sms = Info.Multiprocessors;
        if (units >= sms || keys < 512) return 1;
        long want = (2 * sms + units - 1) / units;
        return (int)Math.Clamp(Math.Min(want, keys / 256), 1, 32);
    }

    /// <summary>Merges split-K partial results into dst (and lse), then waits for the stream: the workspaces are freed
    /// when the caller returns.</summary>
    private void Combine(Tensor part, Tensor partLse, Tensor dst, Tensor? logSumExp, Tensor? seqLens, Tensor? queryLens, AttnArgsArg a)
    {
        long total = dst.ElementCount;
        RunBlocks("AttentionKernels.Combine", (total + 255) / 256,
            KernelArg.View(Own(part.Storage).DevicePointer, part.ElementCount), KernelArg.View(Own(partLse.Storage).DevicePointer, partLse.ElementCount),
            WholeView(dst), KernelArg.Struct(Tensor4Arg.Of(dst)),
            logSumExp is null ? KernelArg.View(0, 0) : WholeView(logSumExp), KernelArg.Struct(logSumExp is null ? default : Tensor4Arg.Of(logSumExp)),
            seqLens is null ? KernelArg.View(0, 0) : IntView(seqLens), queryLens is null ? (seqLens is null ? KernelArg.View(0, 0) : IntView(seqLens)) : IntView(queryLens),
            KernelArg.Scalar(seqLens is null ? 0 : 1), KernelArg.Struct(a));
        Synchronize();
    }

    /// <summary>An int32 tensor as the kernels' ArrayView&lt;int&gt;: its first element and the elements after it.</summary>
    private KernelArg IntView(Tensor t) =>
        KernelArg.View(Own(t.Storage).DevicePointer + (ulong)(t.Offset * 4), t.Storage.ByteLength / 4 - t.Offset);
}

/// <summary>The host mirror of Tessera.Kernels.AttnArgs.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct AttnArgsArg
{
    public int B, Hq, Hkv, Sq, Skv, D;
    public int HasQueryPos, QueryPos;
    public int Causal, WindowLeft, WindowRight;
    public float Scale;
    public int HasMask, HasLse, HasQueryLens;
    public int MaxBlocks, BlockSize, NumBlocks;
    public int Splits, Pad;
}
