using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Attention;

/// <summary>Attention for units with few query rows (decode: Sq = 1, or the Group query heads of a GQA kv head, or a
/// handful of speculative tokens), reading K and V rows where they lie (<see cref="KvRows"/>: strided dense views and
/// paged blocks alike) instead of packing them into the tile kernel's panels, which copies and transposes the whole
/// cache on every call. Per unit: scores q_r . k_j by SIMD dot products over D (four keys at a time, each key loaded
/// once for all rows), the causal/window limits and the mask, a two-pass softmax (max, then 2^(s - max) and sum) per
/// chunk of <see cref="Chunk"/> keys with the running max and sum carried between chunks, and o_r += p_rj v_j with
/// every value row streamed once for all rows.
/// A row's result depends only on its own query, its visible keys and the absolute key positions: chunks and the
/// vector lanes of the sums are aligned to absolute key indices, hidden keys weigh exactly 0 and a chunk it cannot see
/// changes nothing. So it does not depend on the other rows, the other units or the thread count (batch invariance).</summary>
internal static unsafe class DecodeAttention
{
    /// <summary>Units with at most this many query rows (Group x Sq) take this path; more go to the tiled kernel.</summary>
    // Measured on the 2-core Zen 4 under heavy load (`peer decode-attention --threads 1 --rounds 31`: 12 units, D = 64,
    // causal, the fastest of 31 samples; tiled time / this path's time): Skv = 160: 11x at 1 row, 4.1x at 4, 2.0x at 8,
    // 1.07x at 16, 0.73x at 24; Skv = 1000: 50x, 16x, 3.7x, 2.3x at 16, 0.93x at 24, 0.86x at 32. Past ~16 rows the
    // tile kernel's 8 x 32 register tile, which reuses each loaded key for 32 queries, wins despite its packing.
    public const int MaxRows = 16;

    /// <summary>Keys per softmax round: the score buffer (MaxRows x Chunk f32 = 16 KB) stays in L1.</summary>
    private const int Chunk = 256;
    private const float Log2E = 1.4426950408889634f, Ln2 = 0.6931471805599453f;

    private static int Round16(int n) => (n + 15) & ~15;

    /// <summary>True when the unit's Group x Sq query rows are few enough for this path.</summary>
    public static bool Takes(FlashPlan plan, in AttnUnit u) => (long)plan.Group * u.Sq <= MaxRows;

    /// <summary>Runs every unit (each must satisfy <see cref="Takes"/>), one task a unit over up to
    /// <paramref name="threads"/> workers.</summary>
    public static void Run(FlashPlan plan, KvRows kv, AttnUnit[] units, int threads)
    {
        int ld = Round16(plan.D);
        long scratchBytes = (long)MaxRows * (2L * ld + Chunk + 4) * sizeof(float);
        FlashAttention.Dynamic(units.Length, threads, scratchBytes, (t, scratch) => Unit(plan, kv, units[t], (float*)scratch));
    }

    private static void Unit(FlashPlan plan, KvRows kv, in AttnUnit u, float* scratch)
    {
        int d = plan.D, ld = Round16(d), rows = plan.Group * u.Sq;
        if (rows == 0) return; // a sequence without new queries (paged attention's queryLens 0)
        float* q = scratch, o = q + MaxRows * ld, s = o + MaxRows * ld, m = s + MaxRows * Chunk, l = m + MaxRows;
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

        for (int c0 = keyStart < keyEnd ? keyStart / Chunk * Chunk : keyEnd; c0 < keyEnd; c0 += Chunk)
        {
            // Keys [ja, jb) are computed; the scores span [a, b), widened to whole 16-key vectors with -inf.
            int ja = Math.Max(c0, keyStart), jb = Math.Min(c0 + Chunk, keyEnd);
            int a = Math.Max(c0, keyStart & ~15), b = Math.Min(c0 + Chunk, Round16(keyEnd));
            Scores(kv, u, q, rows, ld, d, s, c0, ja, jb);
            for (int r = 0; r < rows; r++)
            {
                float* sr = s + r * Chunk - c0;
                for (int j = a; j < b; j++)
                    if (j < lo[r] || j > hi[r]) sr[j] = float.NegativeInfinity;
                if (plan.Mask is { } mask)
                {
                    float* mrow = mask.At(u.Batch, headBase + r / u.Sq, r % u.Sq);
                    long msx = mask.SX;
                    for (int j = Math.Max(ja, lo[r]), end = Math.Min(jb - 1, hi[r]); j <= end; j++) sr[j] += mrow[j * msx] * Log2E;
                }
                float alpha = Softmax(sr + a, b - a, m + r, l + r);
                if (alpha != 1f)
                    for (int c = 0; c < d; c++) o[r * ld + c] *= alpha;
            }
            Values(kv, u, s, rows, o, ld, d, c0, ja, jb);
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

    /// <summary>s[r * Chunk + j - c0] = q_r . k_j for keys [ja, jb): four keys at a time, each loaded once for all rows.</summary>
    private static void Scores(KvRows kv, in AttnUnit u, float* q, int rows, int ld, int d, float* s, int c0, int ja, int jb)
    {
        long sd = kv.KStrideD;
        int j = ja;
        if (sd == 1)
            for (; j + 4 <= jb; j += 4)
            {
                float* k0 = kv.K(u, j), k1 = kv.K(u, j + 1), k2 = kv.K(u, j + 2), k3 = kv.K(u, j + 3);
                for (int r = 0; r < rows; r++) Dot4(q + r * ld, k0, k1, k2, k3, d, s + r * Chunk + j - c0);
            }
        float* one = stackalloc float[4];
        for (; j < jb; j++)
        {
            float* k = kv.K(u, j);
            for (int r = 0; r < rows; r++)
            {
                float* qr = q + r * ld;
                float dot;
                if (sd == 1) { Dot4(qr, k, k, k, k, d, one); dot = one[0]; }
                else { dot = 0f; for (int c = 0; c < d; c++) dot = MathF.FusedMultiplyAdd(qr[c], k[c * sd], dot); }
                s[r * Chunk + j - c0] = dot;
            }
        }
    }

    /// <summary>dst[i] = q . k_i for four contiguous key rows: 16-wide FMAs, then 8-wide, then the four accumulators
    /// reduced together (two horizontal adds instead of four full reductions), then the scalar tail. A single key is
    /// the same call with its row four times, so a key's score does not depend on the group it fell in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4(float* q, float* k0, float* k1, float* k2, float* k3, int d, float* dst)
    {
        int c = 0;
        Vector256<float> h0 = default, h1 = default, h2 = default, h3 = default;
        if (Vector512.IsHardwareAccelerated && d >= 16)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; c + 16 <= d; c += 16)
            {
                var x = Vector512.Load(q + c);
                a0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(k0 + c), a0);
                a1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(k1 + c), a1);
                a2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(k2 + c), a2);
                a3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(k3 + c), a3);
            }
            h0 = a0.GetLower() + a0.GetUpper(); h1 = a1.GetLower() + a1.GetUpper();
            h2 = a2.GetLower() + a2.GetUpper(); h3 = a3.GetLower() + a3.GetUpper();
        }
        if (Vector256.IsHardwareAccelerated)
            for (; c + 8 <= d; c += 8)
            {
                var x = Vector256.Load(q + c);
                h0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k0 + c), h0);
                h1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k1 + c), h1);
                h2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k2 + c), h2);
                h3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k3 + c), h3);
            }
        float s0, s1, s2, s3;
        if (Avx.IsSupported)
        {
            // [h0 lo4, h1 lo4, h2 lo4, h3 lo4 | the same of the high four lanes], then the halves added: one sum a key.
            var p = Avx.HorizontalAdd(Avx.HorizontalAdd(h0, h1), Avx.HorizontalAdd(h2, h3));
            var r = p.GetLower() + p.GetUpper();
            s0 = r.GetElement(0); s1 = r.GetElement(1); s2 = r.GetElement(2); s3 = r.GetElement(3);
        }
        else { s0 = Vector256.Sum(h0); s1 = Vector256.Sum(h1); s2 = Vector256.Sum(h2); s3 = Vector256.Sum(h3); }
        for (; c < d; c++)
        {
            s0 = MathF.FusedMultiplyAdd(q[c], k0[c], s0); s1 = MathF.FusedMultiplyAdd(q[c], k1[c], s1);
            s2 = MathF.FusedMultiplyAdd(q[c], k2[c], s2); s3 = MathF.FusedMultiplyAdd(q[c], k3[c], s3);
        }
        dst[0] = s0; dst[1] = s1; dst[2] = s2; dst[3] = s3;
    }

    /// <summary>Turns n (a multiple of 16) scores into p = 2^(s - m_new) in place, updates the row's running max m and
    /// sum l, and returns alpha = 2^(m_old - m_new), what the row's accumulator must be scaled by. A row that has seen
    /// no visible key keeps m = -inf and l = 0.</summary>
    private static float Softmax(float* s, int n, float* m, float* l)
    {
        float mx = float.NegativeInfinity;
        int j = 0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var vmx = Vector512.Create(float.NegativeInfinity);
            for (; j < n; j += 16) vmx = Avx512F.Max(vmx, Vector512.Load(s + j)); // bare vmaxps (see FastExp2)
            for (int i = 0; i < 16; i++) mx = MathF.Max(mx, vmx[i]);
        }
        else
            for (; j < n; j++) mx = MathF.Max(mx, s[j]);
        float mNew = MathF.Max(*m, mx), mSafe = float.IsNegativeInfinity(mNew) ? 0f : mNew;
        float alpha = FastExp2.Exp2(*m - mSafe), sum;
        j = 0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var vm = Vector512.Create(mSafe);
            var acc = Vector512<float>.Zero;
            for (; j < n; j += 16)
            {
                var p = FastExp2.Exp2(Vector512.Load(s + j) - vm);
                p.Store(s + j); acc += p;
            }
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vm = Vector256.Create(mSafe);
            var acc = Vector256<float>.Zero;
            for (; j < n; j += 8)
            {
                var p = FastExp2.Exp2(Vector256.Load(s + j) - vm);
                p.Store(s + j); acc += p;
            }
            sum = Vector256.Sum(acc);
        }
        else
        {
            sum = 0f;
            for (; j < n; j++) { float p = FastExp2.Exp2(s[j] - mSafe); s[j] = p; sum += p; }
        }
        *l = *l * alpha + sum;
        *m = mNew;
        return alpha;
    }

    /// <summary>o_r += sum_j p_rj v_j over keys [ja, jb), four value rows at a time, each loaded once for all rows;
    /// every row adds its keys in ascending order whatever the grouping, and skips keys it gives weight 0.</summary>
    private static void Values(KvRows kv, in AttnUnit u, float* s, int rows, float* o, int ld, int d, int c0, int ja, int jb)
    {
        long sd = kv.VStrideD;
        int j = ja;
        if (sd == 1)
            for (; j + 4 <= jb; j += 4)
            {
                float* v0 = kv.V(u, j), v1 = kv.V(u, j + 1), v2 = kv.V(u, j + 2), v3 = kv.V(u, j + 3);
                for (int r = 0; r < rows; r++)
                {
                    float* p = s + r * Chunk + j - c0;
                    if (p[0] == 0f && p[1] == 0f && p[2] == 0f && p[3] == 0f) continue;
                    Axpy4(p[0], p[1], p[2], p[3], v0, v1, v2, v3, o + r * ld, d);
                }
            }
        for (; j < jb; j++)
        {
            float* v = kv.V(u, j);
            for (int r = 0; r < rows; r++)
            {
                float p = s[r * Chunk + j - c0];
                if (p == 0f) continue;
                float* orow = o + r * ld;
                if (sd == 1) Axpy4(p, 0f, 0f, 0f, v, v, v, v, orow, d);
                else for (int c = 0; c < d; c++) orow[c] = MathF.FusedMultiplyAdd(p, v[c * sd], orow[c]);
            }
        }
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
