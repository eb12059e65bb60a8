namespace Tessera.Tests.Reference;

/// <summary>Attention written the obvious way, on plain arrays: q [B, Hq, Sq, D], k and v [B, Hkv, Skv, D], an
/// optional full additive mask [B, Hq, Sq, Skv]; the score matrix is materialised and softmaxed row by row.
/// <see cref="Run"/> in double is the reference; <see cref="RunF32"/> is the naive attention in the working
/// precision whose error sets the bar for the fused kernel (FlashAttention's rule). Visibility follows
/// <see cref="AttentionOptions"/>: query i at key position qpos + i sees key j when
/// pos - windowLeft &lt;= j &lt;= pos + windowRight (negative: unbounded) and j &lt;= pos if causal.</summary>
public static class NaiveAttention
{
    public sealed record Problem(int B, int Hq, int Hkv, int Sq, int Skv, int D, float[] Q, float[] K, float[] V, float[]? Mask,
        AttentionOptions Options);

    public static bool Visible(AttentionOptions o, int sq, int skv, int i, int j)
    {
        int pos = o.QueryPositionFor(sq, skv) + i;
        if (o.Causal && j > pos) return false;
        if (o.WindowLeft >= 0 && j < pos - o.WindowLeft) return false;
        if (o.WindowRight >= 0 && j > pos + o.WindowRight) return false;
        return true;
    }

    /// <summary>The fp64 reference: output [B, Hq, Sq, D] and natural log-sum-exp [B, Hq, Sq].</summary>
    public static (double[] Out, double[] Lse) Run(Problem p)
    {
        var o = new double[p.B * p.Hq * p.Sq * p.D];
        var lse = new double[p.B * p.Hq * p.Sq];
        double scale = p.Options.Scale ?? 1.0 / Math.Sqrt(p.D);
        var s = new double[p.Skv];
        for (int b = 0; b < p.B; b++)
            for (int h = 0; h < p.Hq; h++)
            {
                int g = h / (p.Hq / p.Hkv);
                for (int i = 0; i < p.Sq; i++)
                {
                    long qo = (((long)b * p.Hq + h) * p.Sq + i) * p.D;
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < p.Skv; j++)
                    {
                        if (!Visible(p.Options, p.Sq, p.Skv, i, j)) { s[j] = double.NegativeInfinity; continue; }
                        long ko = (((long)b * p.Hkv + g) * p.Skv + j) * p.D;
                        double dot = 0;
                        for (int c = 0; c < p.D; c++) dot += (double)p.Q[qo + c] * p.K[ko + c];
                        s[j] = dot * scale + (p.Mask is null ? 0 : p.Mask[(((long)b * p.Hq + h) * p.Sq + i) * p.Skv + j]);
                        max = Math.Max(max, s[j]);
                    }
                    long lo = ((long)b * p.Hq + h) * p.Sq + i;
                    if (double.IsNegativeInfinity(max)) { lse[lo] = double.NegativeInfinity; continue; }
                    double sum = 0;
                    for (int j = 0; j < p.Skv; j++) { s[j] = Math.Exp(s[j] - max); sum += s[j]; }
                    lse[lo] = max + Math.Log(sum);
                    for (int j = 0; j < p.Skv; j++)
                    {
                        if (s[j] == 0) continue;
                        long vo = (((long)b * p.Hkv + g) * p.Skv + j) * p.D;
                        for (int c = 0; c < p.D; c++) o[qo + c] += s[j] / sum * p.V[vo + c];
                    }
                }
            }
        return (o, lse);
    }

    /// <summary>The same computation carried out in float (materialised scores, exp, sum, division, P @ V).</summary>
    public static float[] RunF32(Problem p)
    {
        var o = new float[p.B * p.Hq * p.Sq * p.D];
        float scale = p.Options.Scale ?? 1f / MathF.Sqrt(p.D);
        var s = new float[p.Skv];
        for (int b = 0; b < p.B; b++)
            for (int h = 0; h < p.Hq; h++)
            {
                int g = h / (p.Hq / p.Hkv);
                for (int i = 0; i < p.Sq; i++)
                {
                    long qo = (((long)b * p.Hq + h) * p.Sq + i) * p.D;
                    float max = float.NegativeInfinity;
                    for (int j = 0; j < p.Skv; j++)
                    {
                        if (!Visible(p.Options, p.Sq, p.Skv, i, j)) { s[j] = float.NegativeInfinity; continue; }
                        long ko = (((long)b * p.Hkv + g) * p.Skv + j) * p.D;
                        float dot = 0;
                        for (int c = 0; c < p.D; c++) dot += p.Q[qo + c] * p.K[ko + c];
                        s[j] = dot * scale + (p.Mask is null ? 0 : p.Mask[(((long)b * p.Hq + h) * p.Sq + i) * p.Skv + j]);
                        max = MathF.Max(max, s[j]);
                    }
                    if (float.IsNegativeInfinity(max)) continue;
                    float sum = 0;
                    for (int j = 0; j < p.Skv; j++) { s[j] = MathF.Exp(s[j] - max); sum += s[j]; }
                    for (int j = 0; j < p.Skv; j++)
                    {
                        if (s[j] == 0) continue;
                        float w = s[j] / sum;
                        long vo = (((long)b * p.Hkv + g) * p.Skv + j) * p.D;
                        for (int c = 0; c < p.D; c++) o[qo + c] += w * p.V[vo + c];
                    }
                }
            }
        return o;
    }

    /// <summary>Largest absolute difference.</summary>
    public static double MaxError(ReadOnlySpan<float> got, ReadOnlySpan<double> want)
    {
        double e = 0;
        for (int i = 0; i < got.Length; i++) e = Math.Max(e, Math.Abs(got[i] - want[i]));
        return e;
    }
}
