using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Attention;

/// <summary>Attention for units with few query rows (decode: Sq = 1, or the Group query heads of a GQA kv head, or a
/// handful of speculative tokens), reading K and V rows where they lie (<see cref="KvRows"/>: strided dense views and
/// paged blocks alike) instead of packing the whole cache into the tile kernel's panels on every call. Per chunk of
/// <see cref="FlashAttention.Bc"/> keys: 32 keys at a time are turned into a small [D][32] panel in L1 and scored
/// against every row (keys in the vector lanes), the causal/window limits and the mask are applied, the online softmax
/// updates each row's running max and sum, and the value rows, read in place once for all rows, are accumulated.
/// Every step rounds as the tiled kernel does (the same sequential FMA chain over D per score, the same exponential,
/// the same even/odd partial sums, the same chunk boundaries, a chunk's P V summed from zero and then added), so for
/// causal or unlimited attention a query's output is bit for bit what the tiled kernel gives: a prompt continued from
/// a cached prefix gets the logits of the whole prompt computed at once. A row's result depends only on its own query,
/// its visible keys and the chunk boundaries (from the unit's first visible key; 0 unless a left window is set), never
/// on the other units or the thread count.</summary>
internal static unsafe class DecodeAttention
{
    /// <summary>Units with at most this many query rows (Group x Sq) take this path; more go to the tiled kernel.</summary>
    // Measured on the 2-core Zen 4 under heavy load (load average ~40; `peer decode-attention --threads 1 --rounds 31`:
    // 12 units, D = 64, causal; tiled time / this path's time, fastest of 31 samples each): Skv = 160: 4.0x at 1 row,
    // 2.3x at 4, 1.6x at 8, 1.03x at 16, 0.69x at 24, 0.09-0.38x at 32-48; Skv = 1000: 2.6x, 2.1x, 1.6x, 1.27x at 16,
    // 0.87x at 24, 0.66x at 32. Past 16 rows the tile kernel's 8 x 32 register tile, which reuses each loaded key for
    // 32 queries, wins despite its packing.
    public const int MaxRows = 16;

    private const int Bc = FlashAttention.Bc, Panel = 32;
    private const float Log2E = 1.4426950408889634f, Ln2 = 0.6931471805599453f;

    private static int Round16(int n) => (n + 15) & ~15;

    private static bool Wide => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>True when the unit's Group x Sq query rows are few enough for this path.</summary>
    public static bool Takes(FlashPlan plan, in AttnUnit u) => (long)plan.Group * u.Sq <= MaxRows;

    /// <summary>Runs every unit (each must satisfy <see cref="Takes"/>), one task a unit over up to
    /// <paramref name="threads"/> workers.</summary>
    public static void Run(FlashPlan plan, KvRows kv, AttnUnit[] units, int threads)
    {
        int ld = Round16(plan.D);
        long scratchFloats = (long)MaxRows * (3L * ld + Bc + 4) + (long)ld * Panel;
        FlashAttention.Dynamic(units.Length, threads, scratchFloats * sizeof(float), (t, scratch) => Unit(plan, kv, units[t], (float*)scratch));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    // AggressiveOptimization here and below: these loops run a few microseconds per call, so tiered compilation kept
    // them in tier-0/OSR code for a long time (`peer decode-attention`, Skv 160, one row: 161-275 us per 12-unit call
    // tiered, 34.5 us with DOTNET_TieredCompilation=0).
    private static void Unit(FlashPlan plan, KvRows kv, in AttnUnit u, float* scratch)
    {
        int d = plan.D, ld = Round16(d), rows = plan.Group * u.Sq;
        if (rows == 0) return; // a sequence without new queries (paged attention's queryLens 0)
        float* q = scratch, o = q + MaxRows * ld, part = o + MaxRows * ld, s = part + MaxRows * ld, kt = s + MaxRows * Bc;
        float* m = kt + ld * Panel, l = m + MaxRows;
        int* lo = (int*)(l + MaxRows), hi = lo + MaxRows;
        int headBase = u.KvHead * plan.Group;

        // Visible key range [lo, hi] of each row (as in the tiled kernel), and their union [keyStart, keyEnd).
        int right = plan.Causal ? (plan.WindowRight >= 0 ? Math.Min(plan.WindowRight, 0) : 0) : plan.WindowRight;
        int left = plan.WindowLeft, keyStart = int.MaxValue, keyEnd = 0;
        for (int r = 0; r < rows; r++)
        {
            int pos = u.QueryPos + r % u.Sq;
            int a = left >= 0 ? Math.Max(pos - left, 0) : 0;
            int b = right >= 0 ? Math.Min(pos + right, u.Skv - 1) : u.Skv - 1;
            lo[r] = a; hi[r] = b;
            if (a <= b) { keyStart = Math.Min(keyStart, a); keyEnd = Math.Max(keyEnd, b + 1); }
        }

        // Query rows scaled into log2 units, contiguous; the accumulators, running max and sum.
        var qv = plan.Q;
        long qsx = qv.SX;
        float scale = plan.Scale2;
        for (int r = 0; r < rows; r++)
        {
            float* src = qv.At(u.Batch, headBase + r / u.Sq, r % u.Sq), dst = q + r * ld;
            for (int c = 0; c < d; c++) dst[c] = src[c * qsx] * scale;
            m[r] = float.NegativeInfinity; l[r] = 0f;
        }
        new Span<float>(o, rows * ld).Clear();

        if (PrefetchRows > 0 && keyStart < keyEnd)
            PrefetchAhead(kv, u, keyStart & ~7, PrefetchRows, keyStart & ~7, Math.Min((keyStart & ~7) + Bc, keyEnd), keyEnd, d, keysFirst: true);
        for (int j0 = keyStart < keyEnd ? keyStart & ~7 : keyEnd; j0 < keyEnd; j0 += Bc)
        {
            int n = Math.Min(Bc, keyEnd - j0), n16 = Round16(n);
            for (int p0 = 0; p0 < n; p0 += Panel)
            {
                PackKeys(kv, u, j0 + p0, Math.Min(Panel, n - p0), d, kt, j0, j0 + n, keyEnd);
                Scores(q, rows, ld, d, kt, s + p0);
            }
            for (int r = 0; r < rows; r++)
            {
                float* sr = s + r * Bc;
                for (int j = 0; j < n; j++)
                    if (j0 + j < lo[r] || j0 + j > hi[r]) sr[j] = float.NegativeInfinity;
                for (int j = n; j < n16; j++) sr[j] = float.NegativeInfinity;
                if (plan.Mask is { } mask)
                {
                    float* mrow = mask.At(u.Batch, headBase + r / u.Sq, r % u.Sq) + (long)j0 * mask.SX;
                    long msx = mask.SX;
                    for (int j = 0; j < n; j++) sr[j] += mrow[j * msx] * Log2E;
                }
                float alpha = Softmax(sr, n16, m + r, l + r);
                if (alpha != 1f)
                    for (int c = 0; c < d; c++) o[r * ld + c] *= alpha;
            }
            Values(kv, u, s, rows, part, o, ld, d, j0, n, keyEnd);
        }

        var ov = plan.O;
        long osx = ov.SX;
        for (int r = 0; r < rows; r++)
        {
            int h = headBase + r / u.Sq, sq = r % u.Sq;
            float inv = l[r] > 0 ? 1f / l[r] : 0f;
            float* dst = ov.At(u.Batch, h, sq), src = o + r * ld;
            for (int c = 0; c < d; c++) dst[c * osx] = src[c] * inv;
            if (plan.Lse is { } lse)
                *lse.At(u.Batch, h, sq) = l[r] > 0 ? (m[r] + MathF.Log2(l[r])) * Ln2 : float.NegativeInfinity;
        }
    }

    /// <summary>kt[c * 32 + i] = k_(j + i)[c] for the <paramref name="count"/> keys from j (zeros past them): the keys
    /// of one panel in the vector lanes, 8 rows a gather where they are contiguous and close enough.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackKeys(KvRows kv, in AttnUnit u, int j, int count, int d, float* kt, int j0, int chunkEnd, int keyEnd)
    {
        long sd = kv.KStrideD;
        float** rows = stackalloc float*[8];
        for (int i0 = 0; i0 < Panel; i0 += 8)
        {
            if (sd == 1 && i0 + 8 <= count)
            {
                for (int i = 0; i < 8; i++) rows[i] = kv.K(u, j + i0 + i);
                if (PrefetchRows > 0)
                    PrefetchAhead(kv, u, j + i0 + PrefetchRows, 8, j0, chunkEnd, keyEnd, d, keysFirst: true);
                // In registers (an exact copy); gathers where d is not a multiple of 8 (measured: gathers were most of
                // this path's time at D = 64, Skv = 160).
                if (Transpose8.TryRowsInRegisters(rows, d, kt + i0, Panel) || Transpose8.TryRows(rows, d, kt + i0, Panel, 1f)) continue;
            }
            for (int i = i0; i < i0 + 8; i++)
            {
                float* col = kt + i;
                if (i >= count) { for (int c = 0; c < d; c++) col[c * Panel] = 0f; continue; }
                float* row = kv.K(u, j + i);
                for (int c = 0; c < d; c++) col[c * Panel] = row[c * sd];
            }
        }
    }

    /// <summary>s[r * Bc + i] = q_r . k_i for the 32 keys of a panel: per score the FMA chain over D in order, as the
    /// tiled kernel's, so the two paths agree bit for bit. Four rows at a time share each loaded panel row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scores(float* q, int rows, int ld, int d, float* kt, float* s)
    {
        if (Wide)
        {
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                Vector512<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
                float* q0 = q + r * ld, q1 = q0 + ld, q2 = q1 + ld, q3 = q2 + ld;
                for (int c = 0; c < d; c++)
                {
                    var k0 = Vector512.Load(kt + c * Panel);
                    var k1 = Vector512.Load(kt + c * Panel + 16);
                    var x = Vector512.Create(q0[c]); a0 = Avx512F.FusedMultiplyAdd(x, k0, a0); b0 = Avx512F.FusedMultiplyAdd(x, k1, b0);
                    x = Vector512.Create(q1[c]); a1 = Avx512F.FusedMultiplyAdd(x, k0, a1); b1 = Avx512F.FusedMultiplyAdd(x, k1, b1);
                    x = Vector512.Create(q2[c]); a2 = Avx512F.FusedMultiplyAdd(x, k0, a2); b2 = Avx512F.FusedMultiplyAdd(x, k1, b2);
                    x = Vector512.Create(q3[c]); a3 = Avx512F.FusedMultiplyAdd(x, k0, a3); b3 = Avx512F.FusedMultiplyAdd(x, k1, b3);
                }
                a0.Store(s + r * Bc); b0.Store(s + r * Bc + 16); a1.Store(s + (r + 1) * Bc); b1.Store(s + (r + 1) * Bc + 16);
                a2.Store(s + (r + 2) * Bc); b2.Store(s + (r + 2) * Bc + 16); a3.Store(s + (r + 3) * Bc); b3.Store(s + (r + 3) * Bc + 16);
            }
            for (; r < rows; r++)
            {
                Vector512<float> a0 = default, b0 = default;
                float* q0 = q + r * ld;
                for (int c = 0; c < d; c++)
                {
                    var x = Vector512.Create(q0[c]);
                    a0 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(kt + c * Panel), a0);
                    b0 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(kt + c * Panel + 16), b0);
                }
                a0.Store(s + r * Bc); b0.Store(s + r * Bc + 16);
            }
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            float* q0 = q + r * ld;
            for (int i = 0; i < Panel; i++)
            {
                float acc = 0f;
                for (int c = 0; c < d; c++) acc = MathF.FusedMultiplyAdd(q0[c], kt[c * Panel + i], acc);
                s[r * Bc + i] = acc;
            }
        }
    }

    /// <summary>Turns n16 scores (a multiple of 16, -inf past the chunk) into p = 2^(s - m_new) in place, updates the
    /// row's running max m and sum l, and returns alpha = 2^(m_old - m_new), what the row's accumulator must be scaled
    /// by. The same exponential and the same order of additions as the tiled kernel's online softmax (even and odd keys
    /// in two sums on AVX-512, one sum otherwise). A row that has seen no visible key keeps m = -inf and l = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Softmax(float* s, int n16, float* m, float* l)
    {
        float mx = float.NegativeInfinity;
        if (Wide)
        {
            var vmx = Vector512.Create(float.NegativeInfinity);
            for (int j = 0; j < n16; j += 16) vmx = Avx512F.Max(vmx, Vector512.Load(s + j)); // bare vmaxps (see FastExp2)
            for (int i = 0; i < 16; i++) mx = MathF.Max(mx, vmx[i]);
            float mNew = MathF.Max(*m, mx), mSafe = float.IsNegativeInfinity(mNew) ? 0f : mNew;
            float alpha = FastExp2.Exp2(Vector512.Create(*m - mSafe)).ToScalar();
            var vm = Vector512.Create(mSafe);
            for (int j = 0; j < n16; j += 16) FastExp2.Exp2(Vector512.Load(s + j) - vm).Store(s + j);
            float sum0 = 0f, sum1 = 0f;
            for (int j = 0; j < n16; j += 2) { sum0 += s[j]; sum1 += s[j + 1]; }
            *l = MathF.FusedMultiplyAdd(*l, alpha, sum0 + sum1);
            *m = mNew;
            return alpha;
        }
        else
        {
            for (int j = 0; j < n16; j++) mx = MathF.Max(mx, s[j]);
            float mNew = MathF.Max(*m, mx), mSafe = float.IsNegativeInfinity(mNew) ? 0f : mNew;
            float alpha = FastExp2.Exp2(*m - mSafe), sum = 0f;
            for (int j = 0; j < n16; j++) { float p = FastExp2.Exp2(s[j] - mSafe); s[j] = p; sum += p; }
            *l = *l * alpha + sum;
            *m = mNew;
            return alpha;
        }
    }

    /// <summary>o_r += sum_j p_rj v_j over the chunk's keys, the sum formed from zero in key order and then added (as the
    /// tiled kernel does); value rows are read in place, four at a time, once for all rows, and keys a row gives
    /// weight 0 are skipped (adding 0 p v changes nothing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Values(KvRows kv, in AttnUnit u, float* s, int rows, float* part, float* o, int ld, int d, int j0, int n, int keyEnd)
    {
        long sd = kv.VStrideD;
        new Span<float>(part, rows * ld).Clear();
        int j = 0;
        if (sd == 1)
            for (; j + 4 <= n; j += 4)
            {
                float* v0 = kv.V(u, j0 + j), v1 = kv.V(u, j0 + j + 1), v2 = kv.V(u, j0 + j + 2), v3 = kv.V(u, j0 + j + 3);
                if (PrefetchRows > 0)
                    PrefetchAhead(kv, u, j0 + j + PrefetchRows, 4, j0, j0 + n, keyEnd, d, keysFirst: false);
                for (int r = 0; r < rows; r++)
                {
                    float* p = s + r * Bc + j;
                    if (p[0] == 0f && p[1] == 0f && p[2] == 0f && p[3] == 0f) continue;
                    Axpy4(p[0], p[1], p[2], p[3], v0, v1, v2, v3, part + r * ld, d);
                }
            }
        for (; j < n; j++)
        {
            float* v = kv.V(u, j0 + j);
            for (int r = 0; r < rows; r++)
            {
                float p = s[r * Bc + j];
                if (p == 0f) continue;
                float* pr = part + r * ld;
                if (sd == 1) Axpy4(p, 0f, 0f, 0f, v, v, v, v, pr, d);
                else for (int c = 0; c < d; c++) pr[c] = MathF.FusedMultiplyAdd(p, v[c * sd], pr[c]);
            }
        }
        for (int r = 0; r < rows; r++)
        {
            float* pr = part + r * ld, or0 = o + r * ld;
            for (int c = 0; c < d; c++) or0[c] = pr[c] + or0[c];
        }
    }

    // Rows of K and V asked for ahead of use (prefetcht0), in the order the unit reads them (a chunk's keys, its
    // values, the next chunk's keys). A decoder's KV cache is cold at every step: the weights streamed since the layer's
    // last step pushed it out of every cache, and one head's K and V are short streams (40 KB each at Skv = 160) that
    // the hardware prefetchers barely ramp up on. `peer llama --profile 1`, 110M Q4_0, one thread, Zen 4: attention
    // 132-152 -> 82-112 us per call (12 heads, Skv 128..160) at 16 rows ahead; 8, 12 and 24 were no better. `peer
    // decode-attention --cold 1` does not show the gain (its 64 MB flush leaves K and V in a different state): trust
    // the model's figure.
    private const int PrefetchRows = 16;

    // The row `PrefetchRows` ahead in the order this path reads a chunk: its keys [j0, chunkEnd), then its values from
    // j0, then the next chunk's keys from chunkEnd. keysFirst: r counts through the keys (past chunkEnd it is value row
    // j0 + r - chunkEnd); else through the values (past chunkEnd it is the next chunk's key row r, up to keyEnd).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchAhead(KvRows kv, in AttnUnit u, int r, int count, int j0, int chunkEnd, int keyEnd, int d, bool keysFirst)
    {
        // [r, r + count) in reading order: the part before chunkEnd, then the part past it, one call each.
        int before = Math.Clamp(chunkEnd - r, 0, count), after = count - before;
        if (before > 0) kv.Prefetch(u, r, before, keysFirst, d);
        if (after == 0) return;
        int a = r + before;   // = max(r, chunkEnd)
        if (keysFirst) { int v = j0 + a - chunkEnd; kv.Prefetch(u, v, Math.Min(after, chunkEnd - v), key: false, d); }
        else kv.Prefetch(u, a, Math.Min(after, keyEnd - a), key: true, d);
    }

    /// <summary>o = fma(p3, v3, fma(p2, v2, fma(p1, v1, fma(p0, v0, o)))) elementwise; a zero weight adds exactly
    /// nothing, so one key is the same call with three zero weights.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy4(float p0, float p1, float p2, float p3, float* v0, float* v1, float* v2, float* v3, float* o, int d)
    {
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> w0 = Vector512.Create(p0), w1 = Vector512.Create(p1), w2 = Vector512.Create(p2), w3 = Vector512.Create(p3);
            for (; c + 16 <= d; c += 16)
            {
                var acc = Vector512.FusedMultiplyAdd(w0, Vector512.Load(v0 + c), Vector512.Load(o + c));
                acc = Vector512.FusedMultiplyAdd(w1, Vector512.Load(v1 + c), acc);
                acc = Vector512.FusedMultiplyAdd(w2, Vector512.Load(v2 + c), acc);
                Vector512.FusedMultiplyAdd(w3, Vector512.Load(v3 + c), acc).Store(o + c);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> w0 = Vector256.Create(p0), w1 = Vector256.Create(p1), w2 = Vector256.Create(p2), w3 = Vector256.Create(p3);
            for (; c + 8 <= d; c += 8)
            {
                var acc = Vector256.FusedMultiplyAdd(w0, Vector256.Load(v0 + c), Vector256.Load(o + c));
                acc = Vector256.FusedMultiplyAdd(w1, Vector256.Load(v1 + c), acc);
                acc = Vector256.FusedMultiplyAdd(w2, Vector256.Load(v2 + c), acc);
                Vector256.FusedMultiplyAdd(w3, Vector256.Load(v3 + c), acc).Store(o + c);
            }
        }
        for (; c < d; c++)
            o[c] = MathF.FusedMultiplyAdd(p3, v3[c], MathF.FusedMultiplyAdd(p2, v2[c], MathF.FusedMultiplyAdd(p1, v1[c], MathF.FusedMultiplyAdd(p0, v0[c], o[c]))));
    }
}
