using Tessera.Tests.Reference;
using Xunit;

namespace Tessera.Tests;

/// <summary>Shared by the ring and paged attention tests (the plain attention comparisons are op-table rows): random problems, tensors made from them, and FlashAttention's accuracy
/// rule (the fused result may be at most twice as far from the fp64 reference as the naive f32 attention, plus a
/// small absolute floor for cases where the naive f32 result happens to be nearly exact).</summary>
internal static class AttentionTestKit
{
    public const double Floor = 2e-6;

    public static float[] Randn(Random r, int n, double std = 1)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++)
            a[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
        return a;
    }

    public static NaiveAttention.Problem Problem(int seed, int b, int hq, int hkv, int sq, int skv, int d,
        AttentionOptions? o = null, bool mask = false)
    {
        var r = new Random(seed);
        float[]? m = null;
        if (mask)
        {
            m = Randn(r, b * hq * sq * skv);
            for (int i = 0; i < m.Length; i++) if (r.Next(5) == 0) m[i] = float.NegativeInfinity;
        }
        // std 1.5 gives peaked softmaxes (scores of several units), which stresses the running max.
        return new(b, hq, hkv, sq, skv, d, Randn(r, b * hq * sq * d, 1.5), Randn(r, b * hkv * skv * d, 1.5), Randn(r, b * hkv * skv * d), m,
            o ?? AttentionOptions.Default);
    }

    public static Tensor Q(IBackend be, NaiveAttention.Problem p) => Tensor.FromArray(be, p.Q, p.B, p.Hq, p.Sq, p.D);
    public static Tensor K(IBackend be, NaiveAttention.Problem p) => Tensor.FromArray(be, p.K, p.B, p.Hkv, p.Skv, p.D);
    public static Tensor V(IBackend be, NaiveAttention.Problem p) => Tensor.FromArray(be, p.V, p.B, p.Hkv, p.Skv, p.D);

    /// <summary>Asserts FlashAttention's rule for an output of the problem.</summary>
    public static void AssertClose(NaiveAttention.Problem p, float[] got, string what)
    {
        var (want, _) = NaiveAttention.Run(p);
        double naive = NaiveAttention.MaxError(NaiveAttention.RunF32(p), want);
        double err = NaiveAttention.MaxError(got, want);
        Assert.True(err <= 2 * naive + Floor, $"{what}: max error {err:E3} vs the naive f32 attention's {naive:E3}");
    }
}
