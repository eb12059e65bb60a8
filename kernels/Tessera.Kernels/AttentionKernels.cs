using ILGPU;

namespace Tessera.Kernels;

// Flash attention (forward): softmax(scale q k^T + mask) v with an online softmax, never materialising the score
// matrix. Reference: NaiveAttention.Run (tests/Tessera.Tests/Reference, fp64) and CpuBackend.Attention
// (src/Tessera.Cpu/Attention). The contract is IBackend.Attention's: q [B, Hq, Sq, D], k and v [B, Hkv, Skv, D]
// with any strides, GQA (query head h reads kv head h / (Hq / Hkv)), causal and window limits around each query's
// key position (QueryPosition, default Skv - Sq: bottom-right), an additive mask [B, Hq, Sq, Skv] (any strides,
// stride 0 for broadcast), optional natural log-sum-exp out, a row that sees no key gives zeros (lse -inf).
//
// Design. A work unit is (batch, kv head, row tile); the rows of a kv head are its G = Hq / Hkv query heads'
// rows flattened (head-major, rho = g * Sq + i), so the G heads that share K/V share each staged K/V tile, and a
// decode step (Sq = 1) of a GQA model fills G rows of one tile instead of wasting a tile per head. Units are walked
// with a grid-stride loop. 256 threads; tile sizes by head dim, all in one static shared array of 10400 floats
// (41.6 KB, under ILGPU's 48 KB):
//   D <= 64:  BQ = 64 rows, BKV = 32 keys, 4 threads a row;   Q 64x65 + K|V 32x65 + S 64x33 floats
//   D <= 128: BQ = 32,      BKV = 32,      8 threads a row;   Q 32x129 + K|V 32x129 + S 32x33
//   D <= 256: BQ = 16,      BKV = 16,     16 threads a row;   Q 16x257 + K|V 16x257 + S 16x17
// (rows padded by one float so the per-key dot products of a warp hit distinct banks). Per key tile:
//   1. the K tile is staged (coalesced along D); 2. each thread computes whole dot products q_r . k_j for
//   (row, key) pairs (mask, causal/window and bounds give -inf); 3. the TPR threads that own a row find the tile
//   max and the exponentials with lane shuffles, rescale the running max m and sum l (kept in registers,
//   replicated over the row's lanes) and write P over S, while the V tile is staged into the K buffer (K is no
//   longer needed); 4. each thread rescales its 8 or 16 output accumulators (registers: dims lr + TPR * i) by
//   exp(m_old - m_new) and adds P_r . V[:, dims].
// Key tiles outside the union of the tile's rows' visible ranges (causal, window) are never visited. Offsets into
// q, k, v, mask, dst are 64-bit. ILGPU does not unroll loops: the accumulators are written out by hand.

/// <summary>Sizes and switches of one attention launch. Host mirror: Tessera.Cuda.AttnArgsArg.</summary>
public struct AttnArgs
{
    public int B, Hq, Hkv, Sq, Skv, D;
    /// <summary>1 when QueryPos is given; else the first query's key position is Skv - Sq (paged: len - qlen).</summary>
    public int HasQueryPos, QueryPos;
    public int Causal, WindowLeft, WindowRight;
    public float Scale;
    public int HasMask, HasLse, HasQueryLens;
    /// <summary>Paged attention: the block table's width, tokens a block and blocks in the pool.</summary>
    public int MaxBlocks, BlockSize, NumBlocks;
    /// <summary>Split-K (flash-decoding): each row's keys are cut into this many chunks computed by separate units,
    /// which write normalised partial outputs and their log-sum-exp into an f32 workspace ([Splits, B, Hq, Sq, D] and
    /// [Splits, B, Hq, Sq], contiguous, passed as dst and lse); Combine merges them. 1 (or 0): no split.</summary>
    public int Splits, Pad;
}

/// <summary>The flash-attention core shared by the contiguous and the paged kernels; only where a K/V row is read
/// from differs (a uniform branch on <c>paged</c>).</summary>
public static class FlashCore
{
    public const int Threads = 256, SharedFloats = 10400, KvRegion = 4160, SRegion = 8288;

    /// <summary>Rows a tile, keys a tile and threads a row for head dim d.</summary>
    public static void Tile(int d, out int bq, out int bkv, out int tpr)
    {
        if (d <= 64) { bq = 64; bkv = 32; tpr = 4; }
        else if (d <= 128) { bq = 32; bkv = 32; tpr = 8; }
        else { bq = 16; bkv = 16; tpr = 16; }
    }

    /// <summary>Work units (batch or sequence, kv head, row tile) of a launch.</summary>
    public static long Units(int batch, int hq, int hkv, int sq, int d)
    {
        Tile(d, out int bq, out _, out _);
        long rows = (long)(hq / hkv) * sq;
        return (long)batch * hkv * ((rows + bq - 1) / bq);
    }

    private static bool Visible(AttnArgs a, int pos, int kj)
    {
        if (a.Causal != 0 && kj > pos) return false;
        if (a.WindowLeft >= 0 && kj < pos - a.WindowLeft) return false;
        if (a.WindowRight >= 0 && kj > pos + a.WindowRight) return false;
        return true;
    }

    private static float Max(float x, float y) => x > y ? x : y;

    /// <summary>Max over the tpr consecutive lanes that own one row (tpr is 4, 8 or 16: a divisor of the warp).</summary>
    private static float RowMax(float v, int tpr)
    {
        if (tpr >= 16) v = Max(v, Warp.ShuffleXor(v, 8));
        if (tpr >= 8) v = Max(v, Warp.ShuffleXor(v, 4));
        v = Max(v, Warp.ShuffleXor(v, 2));
        return Max(v, Warp.ShuffleXor(v, 1));
    }

    private static float RowSum(float v, int tpr)
    {
        if (tpr >= 16) v += Warp.ShuffleXor(v, 8);
        if (tpr >= 8) v += Warp.ShuffleXor(v, 4);
        v += Warp.ShuffleXor(v, 2);
        return v + Warp.ShuffleXor(v, 1);
    }

    /// <summary>Dot product of two shared rows, summed in order (as the naive reference), four terms a step.</summary>
    private static float Dot(ArrayView<float> sh, int x, int y, int d)
    {
        float s = 0f;
        int c = 0;
        for (; c + 4 <= d; c += 4)
        {
            s += sh[x + c] * sh[y + c];
            s += sh[x + c + 1] * sh[y + c + 1];
            s += sh[x + c + 2] * sh[y + c + 2];
            s += sh[x + c + 3] * sh[y + c + 3];
        }
        for (; c < d; c++) s += sh[x + c] * sh[y + c];
        return s;
    }

    /// <summary>Stages rows k0 .. k0 + nj - 1 of one kv head of K or V into the K|V buffer (row stride d + 1).</summary>
    private static void StageKv(ArrayView<float> sh, ArrayView<byte> src, Tensor4 l, bool paged, ArrayView<int> tables, AttnArgs a,
        int b, int kvh, int k0, int nj, int d)
    {
        int dp = d + 1;
        for (int e = Group.IdxX; e < nj * d; e += Threads)
        {
            int j = e / d, c = e - j * d, kj = k0 + j;
            float val = 0f;
            if (paged)
            {
                int blk = tables[(long)b * a.MaxBlocks + kj / a.BlockSize];
                if (blk >= 0 && blk < a.NumBlocks) // the host checks the table; never read outside the pool
                    val = l.Load(src, l.Offset + blk * l.S0 + kvh * l.S1 + (kj % a.BlockSize) * l.S2 + c * l.S3);
            }
            else val = l.Load(src, l.Offset + b * l.S0 + kvh * l.S1 + kj * l.S2 + c * l.S3);
            sh[KvRegion + j * dp + c] = val;
        }
    }

    public static void Run(bool paged, ArrayView<byte> q, Tensor4 ql, ArrayView<byte> k, Tensor4 kl, ArrayView<byte> v, Tensor4 vl,
        ArrayView<byte> mask, Tensor4 ml, ArrayView<int> tables, ArrayView<int> seqLens, ArrayView<int> queryLens,
        ArrayView<byte> dst, Tensor4 dl, ArrayView<byte> lse, Tensor4 ll, AttnArgs a)
    {
        var sh = SharedMemory.Allocate<float>(SharedFloats);
        int tid = Group.IdxX, d = a.D, dp = d + 1;
        Tile(d, out int bq, out int bkv, out int tpr);
        int r = tid / tpr, lr = tid - r * tpr; // the row of the tile and the lane within it this thread owns
        bool wide = d > tpr * 8;                // 16 accumulators a thread, else 8
        int group = a.Hq / a.Hkv, rowsAll = group * a.Sq;
        int tiles = (rowsAll + bq - 1) / bq, splits = a.Splits > 1 ? a.Splits : 1;
        long units = (long)a.B * a.Hkv * tiles * splits;
        for (long u = Grid.IdxX; u < units; u += Grid.DimX)
        {
            long us = u / splits;
            int split = (int)(u - us * splits);
            long bh = us / tiles;
            int tile = (int)(us - bh * tiles);
            int b = (int)(bh / a.Hkv), kvh = (int)(bh - (long)b * a.Hkv);
            int skv = a.Skv, qlen = a.Sq;
            if (paged)
            {
                skv = seqLens[b];
                int cap = a.MaxBlocks * a.BlockSize;
                skv = skv < 0 ? 0 : skv > cap ? cap : skv;
                if (a.HasQueryLens != 0) qlen = queryLens[b];
                qlen = qlen < 0 ? 0 : qlen > a.Sq ? a.Sq : qlen;
                if (qlen > skv) qlen = skv;
            }
            int qpos = a.HasQueryPos != 0 ? a.QueryPos : skv - qlen;

            // The key range any row of this tile can see (uniform over the block).
            int rho0 = tile * bq, rho1 = Math.Min(rho0 + bq, rowsAll);
            int h0 = rho0 / a.Sq, h1 = (rho1 - 1) / a.Sq;
            int iLo = h0 == h1 ? rho0 - h0 * a.Sq : 0, iHi = h0 == h1 ? rho1 - 1 - h1 * a.Sq : a.Sq - 1;
            if (iHi > qlen - 1) iHi = qlen - 1;
            if (iLo > iHi) continue; // no query row of this sequence in the tile
            int posLo = qpos + iLo, posHi = qpos + iHi, kLo = 0, kHi = skv;
            if (a.Causal != 0 && posHi + 1 < kHi) kHi = posHi + 1;
            if (a.WindowRight >= 0 && posHi + a.WindowRight + 1 < kHi) kHi = posHi + a.WindowRight + 1;
            if (a.WindowLeft >= 0 && posLo - a.WindowLeft > kLo) kLo = posLo - a.WindowLeft;
            long partAt = 0, partLseAt = 0;
            if (splits > 1)
            {
                // This unit's chunk of the key range (whole key tiles); an empty chunk still writes its rows
                // (zeros, lse -inf), which Combine weighs by zero.
                int chunk = (kHi - kLo + splits - 1) / splits;
                chunk = (chunk + bkv - 1) / bkv * bkv;
                int c0 = kLo + split * chunk;
                kHi = Math.Min(kHi, c0 + chunk);
                kLo = c0;
                long rowsTotal = (long)a.B * a.Hq * a.Sq;
                partLseAt = split * rowsTotal;
                partAt = partLseAt * d;
            }

            Group.Barrier(); // the previous unit's last P @ V has read the shared tiles
            for (int e = tid; e < bq * d; e += Threads)
            {
                int rr = e / d, c = e - rr * d, rho = rho0 + rr;
                float val = 0f;
                if (rho < rho1)
                {
                    int h = kvh * group + rho / a.Sq, i = rho % a.Sq;
                    val = ql.Load(q, ql.Offset + b * ql.S0 + h * ql.S1 + i * ql.S2 + c * ql.S3);
                }
                sh[rr * dp + c] = val;
            }

            int srow = SRegion + r * (bkv + 1);
            float m = float.NegativeInfinity, l = 0f;
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
            float a8 = 0, a9 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0, a14 = 0, a15 = 0;
            for (int k0 = kLo; k0 < kHi; k0 += bkv)
            {
                int nj = Math.Min(bkv, kHi - k0);
                Group.Barrier(); // Q written, or the previous tile's P @ V done with the K|V buffer
                StageKv(sh, k, kl, paged, tables, a, b, kvh, k0, nj, d);
                Group.Barrier();

                for (int p = tid; p < bq * bkv; p += Threads)
                {
                    int rr = p / bkv, j = p - rr * bkv, rho = rho0 + rr, kj = k0 + j;
                    float s = float.NegativeInfinity;
                    if (j < nj && rho < rho1)
                    {
                        int h = kvh * group + rho / a.Sq, i = rho % a.Sq;
                        if (i < qlen && Visible(a, qpos + i, kj))
                        {
                            s = Dot(sh, rr * dp, KvRegion + j * dp, d) * a.Scale;
                            if (a.HasMask != 0) s += ml.Load(mask, ml.Offset + b * ml.S0 + h * ml.S1 + i * ml.S2 + kj * ml.S3);
                        }
                    }
                    sh[SRegion + rr * (bkv + 1) + j] = s;
                }
                Group.Barrier();

                // Online softmax of this thread's row (its tpr lanes split the keys, then agree by shuffles).
                float tmax = float.NegativeInfinity;
                for (int j = lr; j < nj; j += tpr) tmax = Max(tmax, sh[srow + j]);
                tmax = RowMax(tmax, tpr);
                float mNew = Max(m, tmax), alpha = 1f, psum = 0f;
                if (mNew == float.NegativeInfinity)
                {
                    for (int j = lr; j < nj; j += tpr) sh[srow + j] = 0f;
                }
                else
                {
                    alpha = MathF.Exp(m - mNew);
                    for (int j = lr; j < nj; j += tpr)
                    {
                        float e = MathF.Exp(sh[srow + j] - mNew);
                        sh[srow + j] = e;
                        psum += e;
                    }
                }
                psum = RowSum(psum, tpr);
                l = l * alpha + psum;
                m = mNew;

                StageKv(sh, v, vl, paged, tables, a, b, kvh, k0, nj, d); // K is no longer read
                Group.Barrier();

                a0 *= alpha; a1 *= alpha; a2 *= alpha; a3 *= alpha; a4 *= alpha; a5 *= alpha; a6 *= alpha; a7 *= alpha;
                int vb = KvRegion + lr;
                if (wide)
                {
                    a8 *= alpha; a9 *= alpha; a10 *= alpha; a11 *= alpha; a12 *= alpha; a13 *= alpha; a14 *= alpha; a15 *= alpha;
                    for (int j = 0; j < nj; j++, vb += dp)
                    {
                        float pj = sh[srow + j];
                        a0 += pj * sh[vb]; a1 += pj * sh[vb + tpr]; a2 += pj * sh[vb + 2 * tpr]; a3 += pj * sh[vb + 3 * tpr];
                        a4 += pj * sh[vb + 4 * tpr]; a5 += pj * sh[vb + 5 * tpr]; a6 += pj * sh[vb + 6 * tpr]; a7 += pj * sh[vb + 7 * tpr];
                        a8 += pj * sh[vb + 8 * tpr]; a9 += pj * sh[vb + 9 * tpr]; a10 += pj * sh[vb + 10 * tpr]; a11 += pj * sh[vb + 11 * tpr];
                        a12 += pj * sh[vb + 12 * tpr]; a13 += pj * sh[vb + 13 * tpr]; a14 += pj * sh[vb + 14 * tpr]; a15 += pj * sh[vb + 15 * tpr];
                    }
                }
                else
                {
                    for (int j = 0; j < nj; j++, vb += dp)
                    {
                        float pj = sh[srow + j];
                        a0 += pj * sh[vb]; a1 += pj * sh[vb + tpr]; a2 += pj * sh[vb + 2 * tpr]; a3 += pj * sh[vb + 3 * tpr];
                        a4 += pj * sh[vb + 4 * tpr]; a5 += pj * sh[vb + 5 * tpr]; a6 += pj * sh[vb + 6 * tpr]; a7 += pj * sh[vb + 7 * tpr];
                    }
                }
            }

            int myRho = rho0 + r;
            if (myRho < rho1 && myRho % a.Sq < qlen)
            {
                int h = kvh * group + myRho / a.Sq, i = myRho % a.Sq;
                float inv = l > 0f ? 1f / l : 0f;
                long at = partAt + dl.Offset + b * dl.S0 + h * dl.S1 + i * dl.S2;
                Out(dst, dl, at, lr, d, a0 * inv); Out(dst, dl, at, lr + tpr, d, a1 * inv);
                Out(dst, dl, at, lr + 2 * tpr, d, a2 * inv); Out(dst, dl, at, lr + 3 * tpr, d, a3 * inv);
                Out(dst, dl, at, lr + 4 * tpr, d, a4 * inv); Out(dst, dl, at, lr + 5 * tpr, d, a5 * inv);
                Out(dst, dl, at, lr + 6 * tpr, d, a6 * inv); Out(dst, dl, at, lr + 7 * tpr, d, a7 * inv);
                if (wide)
                {
                    Out(dst, dl, at, lr + 8 * tpr, d, a8 * inv); Out(dst, dl, at, lr + 9 * tpr, d, a9 * inv);
                    Out(dst, dl, at, lr + 10 * tpr, d, a10 * inv); Out(dst, dl, at, lr + 11 * tpr, d, a11 * inv);
                    Out(dst, dl, at, lr + 12 * tpr, d, a12 * inv); Out(dst, dl, at, lr + 13 * tpr, d, a13 * inv);
                    Out(dst, dl, at, lr + 14 * tpr, d, a14 * inv); Out(dst, dl, at, lr + 15 * tpr, d, a15 * inv);
                }
                if ((a.HasLse != 0 || splits > 1) && lr == 0)
                    ElementIO.StoreF(lse, ll.DType, partLseAt + ll.Offset + b * ll.S1 + h * ll.S2 + i * ll.S3, // [B, Hq, Sq], right-aligned
                        l > 0f ? m + MathF.Log(l) : float.NegativeInfinity);
            }
        }
    }

    private static void Out(ArrayView<byte> dst, Tensor4 dl, long at, int c, int d, float val)
    {
        if (c < d) ElementIO.StoreF(dst, dl.DType, at + c * dl.S3, val);
    }
}

/// <summary>The contiguous (strided) flash-attention kernel.</summary>
public static class AttentionKernels
{
    /// <summary>dst [B, Hq, Sq, D] = attention of q over k, v (see FlashCore); lse [B, Hq, Sq] when a.HasLse.</summary>
    [Kernel(BlockX = FlashCore.Threads, Reference = "NaiveAttention.Run; CpuBackend.Attention",
        Constants = ["Threads=256", "D<=64:BQ=64,BKV=32,TPR=4", "D<=128:BQ=32,BKV=32,TPR=8", "D<=256:BQ=16,BKV=16,TPR=16", "SharedFloats=10400"])]
    public static void Flash(ArrayView<byte> q, Tensor4 ql, ArrayView<byte> k, Tensor4 kl, ArrayView<byte> v, Tensor4 vl,
        ArrayView<byte> mask, Tensor4 ml, ArrayView<byte> dst, Tensor4 dl, ArrayView<byte> lse, Tensor4 ll, AttnArgs a)
    {
        // No block table here: q stands in for the unused int views (never read when paged is false).
        var none = q.Cast<int>();
        FlashCore.Run(false, q, ql, k, kl, v, vl, mask, ml, none, none, none, dst, dl, lse, ll, a);
    }

    /// <summary>Merges the Splits partial results of a split-K launch (FlashCore with a.Splits > 1): for each row,
    /// out = sum_s w_s o_s / sum_s w_s with w_s = exp(lse_s - max lse), lse = max + log sum w (-inf and zeros for a
    /// row no split saw a key of). One thread per output element (grid-stride). Paged launches (paged = 1) skip the
    /// rows past each sequence's query length, as the partial kernel does.</summary>
    [Kernel(BlockX = 256, Reference = "NaiveAttention.Run; CpuBackend.Attention")]
    public static void Combine(ArrayView<float> part, ArrayView<float> partLse, ArrayView<byte> dst, Tensor4 dl, ArrayView<byte> lse, Tensor4 ll,
        ArrayView<int> seqLens, ArrayView<int> queryLens, int paged, AttnArgs a)
    {
        int d = a.D;
        long rows = (long)a.B * a.Hq * a.Sq, total = rows * d;
        for (long e = (long)Grid.IdxX * Group.DimX + Group.IdxX; e < total; e += (long)Grid.DimX * Group.DimX)
        {
            long row = e / d;
            int c = (int)(e - row * d), i = (int)(row % a.Sq);
            long bh = row / a.Sq;
            int h = (int)(bh % a.Hq), b = (int)(bh / a.Hq);
            if (paged != 0)
            {
                int skv = seqLens[b], cap = a.MaxBlocks * a.BlockSize;
                skv = skv < 0 ? 0 : skv > cap ? cap : skv;
                int qlen = a.HasQueryLens != 0 ? queryLens[b] : a.Sq;
                if (qlen > skv) qlen = skv;
                if (i >= qlen) continue;
            }
            float mx = float.NegativeInfinity;
            for (int s = 0; s < a.Splits; s++) { float x = partLse[s * rows + row]; mx = x > mx ? x : mx; }
            float sum = 0f, val = 0f;
            if (mx != float.NegativeInfinity)
            {
                for (int s = 0; s < a.Splits; s++)
                {
                    float w = MathF.Exp(partLse[s * rows + row] - mx);
                    sum += w;
                    val += w * part[(s * rows + row) * d + c];
                }
                val /= sum;
            }
            ElementIO.StoreF(dst, dl.DType, dl.Offset + b * dl.S0 + h * dl.S1 + i * dl.S2 + c * dl.S3, val);
            if (c == 0 && a.HasLse != 0)
                ElementIO.StoreF(lse, ll.DType, ll.Offset + b * ll.S1 + h * ll.S2 + i * ll.S3,
                    mx == float.NegativeInfinity ? float.NegativeInfinity : mx + MathF.Log(sum));
        }
    }
}
