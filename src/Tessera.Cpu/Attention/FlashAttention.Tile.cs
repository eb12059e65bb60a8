using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Attention;

internal static unsafe partial class FlashAttention
{
    /// <summary>One tile of up to Br query rows of a unit against all the keys they may see.</summary>
    private static void Tile(FlashPlan plan, in AttnUnit u, int r0, float* kPack, float* vPack, float* scratch)
    {
        int d = plan.D, dp = Round8(d), n8 = Round8(u.Skv);
        int nq = Math.Min(Br, plan.Group * u.Sq - r0), panels = (nq + 31) / 32;
        float* qt = scratch, s = qt + (long)d * Br, ot = s + (long)Bc * Br, m = ot + (long)dp * Br, l = m + Br, alpha = l + Br;
        int* lo = (int*)(alpha + 2 * Br), hi = lo + Br, head = hi + Br, seq = head + Br;

        // Query head and position of each row, stepped instead of divided per row (and per use).
        int group = plan.Group, sqn = u.Sq, headBase = u.KvHead * group;
        for (int q = 0, h0 = r0 / sqn, s0 = r0 % sqn; q < nq; q++)
        {
            head[q] = headBase + h0; seq[q] = s0;
            if (++s0 == sqn) { s0 = 0; h0++; }
        }

        // Visible key range of each row: [lo, hi] from causal (bottom-right aligned via QueryPos) and the window.
        int right = plan.Causal ? (plan.WindowRight >= 0 ? Math.Min(plan.WindowRight, 0) : 0) : plan.WindowRight;
        int keyStart = int.MaxValue, keyEnd = 0, maxLo = 0, minHi = int.MaxValue;
        int left = plan.WindowLeft, skv = u.Skv, qpos = u.QueryPos;
        for (int q = 0; q < Br; q++)
        {
            if (q >= nq) { lo[q] = int.MaxValue; hi[q] = -1; continue; }
            int pos = qpos + seq[q];
            int a = left >= 0 ? Math.Max(pos - left, 0) : 0;
            int b = right >= 0 ? Math.Min(pos + right, skv - 1) : skv - 1;
            lo[q] = a; hi[q] = b;
            maxLo = Math.Max(maxLo, a); minHi = Math.Min(minHi, b);
            if (a <= b) { keyStart = Math.Min(keyStart, a); keyEnd = Math.Max(keyEnd, b + 1); }
        }

        // Q^T panels [panel][D][32], scaled into log2 units. Locals, not plan's properties, in the loops: the
        // struct-valued properties are re-read (copied) on every element otherwise.
        var qv = plan.Q;
        long qsx = qv.SX;
        float scale = plan.Scale2;
        float** rows = stackalloc float*[8];
        int qFast = 0;
        if (qsx == 1)
            for (; qFast + 8 <= nq; qFast += 8)
            {
                for (int i = 0; i < 8; i++) rows[i] = qv.At(u.Batch, head[qFast + i], seq[qFast + i]);
                if (!Transpose8.TryRows(rows, d, qt + (qFast >> 5) * d * 32 + (qFast & 31), 32, scale)) break;
            }
        for (int q = qFast; q < panels * 32; q++)
        {
            float* col = qt + (q >> 5) * d * 32 + (q & 31);
            if (q >= nq) { for (int c = 0; c < d; c++) col[c * 32] = 0f; continue; }
            float* src = qv.At(u.Batch, head[q], seq[q]);
            if (qsx == 1)
                for (int c = 0; c < d; c++) col[c * 32] = src[c] * scale;
            else
                for (int c = 0; c < d; c++) col[c * 32] = src[c * qsx] * scale;
        }
        for (int q = 0; q < Br; q++) { m[q] = float.NegativeInfinity; l[q] = 0f; }
        new Span<float>(ot, dp * Br).Clear();

        for (int j0 = keyStart & ~7; j0 < keyEnd; j0 += Bc)
        {
            int j1 = Math.Min(j0 + Bc, Round8(keyEnd)), nk = j1 - j0;
            for (int p = 0; p < panels; p++)
                for (int kb = 0; kb < nk; kb += 8)
                    AttnKernel.Run(d, kPack + (long)(j0 + kb) * d, qt + p * d * 32, s + p * Bc * 32 + kb * 32, 32, false);
            if (j0 < maxLo || j1 - 1 > minHi) MaskLimits(s, panels, j0, nk, lo, hi, maxLo, minHi);
            if (plan.Mask is { } mask) AddMask(plan, mask, u, r0, nq, s, j0, nk);
            OnlineSoftmax(s, panels, nk, m, l, alpha);
            Rescale(ot, dp, panels, alpha);
            for (int p = 0; p < panels; p++)
                for (int c0 = 0; c0 < dp; c0 += 8)
                    AttnKernel.Run(nk, vPack + (long)c0 * n8 + (long)j0 * 8, s + p * Bc * 32, ot + c0 * Br + p * 32, Br, true);
        }

        var ov = plan.O;
        long osx = ov.SX;
        for (int q = 0; q < nq; q++)
        {
            int h = head[q], sq = seq[q];
            float inv = l[q] > 0 ? 1f / l[q] : 0f;
            float* dst = ov.At(u.Batch, h, sq);
            float* src = ot + q;
            if (osx == 1)
                Transpose8.Column(src, Br, d, dst, inv);
            else
                for (int c = 0; c < d; c++) dst[c * osx] = src[c * Br] * inv;
            if (plan.Lse is { } lse)
                *lse.At(u.Batch, h, sq) = l[q] > 0 ? (m[q] + MathF.Log2(l[q])) * Ln2 : float.NegativeInfinity;
        }
    }

    /// <summary>Sets the scores of keys outside a row's [lo, hi] to -inf.</summary>
    // Keys in [maxLo, minHi] are visible to every row and skipped: without a causal or window limit only the
    // padding keys past Skv (under 8) are touched.
    private static void MaskLimits(float* s, int panels, int j0, int nk, int* lo, int* hi, int maxLo, int minHi)
    {
        for (int p = 0; p < panels; p++)
            for (int j = 0; j < nk; j++)
            {
                int key = j0 + j;
                if (key >= maxLo && key <= minHi) { j = minHi - j0; continue; }
                float* row = s + p * Bc * 32 + j * 32;
                if (Vector512.IsHardwareAccelerated)
                {
                    var kv = Vector512.Create(key);
                    for (int h = 0; h < 32; h += 16)
                    {
                        var hide = Vector512.LessThan(kv, Vector512.Load(lo + p * 32 + h)) | Vector512.GreaterThan(kv, Vector512.Load(hi + p * 32 + h));
                        Vector512.ConditionalSelect(hide.AsSingle(), Vector512.Create(float.NegativeInfinity), Vector512.Load(row + h)).Store(row + h);
                    }
                }
                else
                    for (int q = 0; q < 32; q++)
                        if (key < lo[p * 32 + q] || key > hi[p * 32 + q]) row[q] = float.NegativeInfinity;
            }
    }

    /// <summary>Adds the additive mask (in log2 units) to the scores of the real rows and keys.</summary>
    private static void AddMask(FlashPlan plan, View4 mask, in AttnUnit u, int r0, int nq, float* s, int j0, int nk)
    {
        int kEnd = Math.Min(nk, u.Skv - j0);
        for (int q = 0; q < nq; q++)
        {
            int r = r0 + q;
            float* mrow = mask.At(u.Batch, u.KvHead * plan.Group + r / u.Sq, r % u.Sq) + j0 * mask.SX;
            float* col = s + (q >> 5) * Bc * 32 + (q & 31);
            for (int j = 0; j < kEnd; j++) col[j * 32] += mrow[j * mask.SX] * Log2E;
        }
    }

    /// <summary>Turns the score tile into P = 2^(s - m_new) in place and updates m, l; alpha = 2^(m_old - m_new)
    /// is what the accumulator must be scaled by. A row that has seen no visible key keeps m = -inf and l = 0.</summary>
    private static void OnlineSoftmax(float* s, int panels, int nk, float* m, float* l, float* alpha)
    {
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var negInf = Vector512.Create(float.NegativeInfinity);
            for (int c = 0; c < panels * 2; c++)
            {
                float* col = s + (c >> 1) * Bc * 32 + (c & 1) * 16;
                int q0 = c * 16;
                var mx = negInf;
                for (int j = 0; j < nk; j++) mx = Avx512F.Max(mx, Vector512.Load(col + j * 32)); // bare vmaxps (see FastExp2)
                var mOld = Vector512.Load(m + q0);
                var mNew = Avx512F.Max(mOld, mx);
                var mSafe = Vector512.ConditionalSelect(Vector512.Equals(mNew, negInf), Vector512<float>.Zero, mNew);
                var a = FastExp2.Exp2(mOld - mSafe);
                Vector512<float> sum0 = default, sum1 = default;
                int jj = 0;
                for (; jj + 2 <= nk; jj += 2)
                {
                    var p0 = FastExp2.Exp2(Vector512.Load(col + jj * 32) - mSafe);
                    var p1 = FastExp2.Exp2(Vector512.Load(col + jj * 32 + 32) - mSafe);
                    p0.Store(col + jj * 32); p1.Store(col + jj * 32 + 32);
                    sum0 += p0; sum1 += p1;
                }
                if (jj < nk)
                {
                    var p0 = FastExp2.Exp2(Vector512.Load(col + jj * 32) - mSafe);
                    p0.Store(col + jj * 32); sum0 += p0;
                }
                Vector512.FusedMultiplyAdd(Vector512.Load(l + q0), a, sum0 + sum1).Store(l + q0);
                mNew.Store(m + q0);
                a.Store(alpha + q0);
            }
            return;
        }
        for (int q = 0; q < panels * 32; q++)
        {
            float* col = s + (q >> 5) * Bc * 32 + (q & 31);
            float mx = float.NegativeInfinity;
            for (int j = 0; j < nk; j++) mx = MathF.Max(mx, col[j * 32]);
            float mNew = MathF.Max(m[q], mx), mSafe = float.IsNegativeInfinity(mNew) ? 0f : mNew;
            float a = FastExp2.Exp2(m[q] - mSafe), sum = 0;
            for (int j = 0; j < nk; j++) { float p = FastExp2.Exp2(col[j * 32] - mSafe); col[j * 32] = p; sum += p; }
            l[q] = l[q] * a + sum; m[q] = mNew; alpha[q] = a;
        }
    }

    /// <summary>O^T[:, q] *= alpha[q].</summary>
    private static void Rescale(float* ot, int dp, int panels, float* alpha)
    {
        int n = panels * 32;
        for (int c = 0; c < dp; c++)
        {
            float* row = ot + c * Br;
            int q = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; q < n; q += 16) (Vector512.Load(row + q) * Vector512.Load(alpha + q)).Store(row + q);
            for (; q < n; q++) row[q] *= alpha[q];
        }
    }
}
