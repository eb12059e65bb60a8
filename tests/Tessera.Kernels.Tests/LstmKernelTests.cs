using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>LstmKernels.Step on the CPU accelerator at odd sizes (2 directions, batch 3, hidden 5, 4 steps) against a
/// double-precision step written from the ONNX formulas. Each step's recurrent pre-activations (what the host's GEMM
/// gives) are random, so the test pins the kernel's part alone: gate order i, o, f, c, peepholes, clip, coupled
/// gates, per-row lengths with a reverse direction starting at lens[b] - 1, frozen states and untouched padding. The
/// grid is smaller than the work, so the grid-stride loop wraps.</summary>
public sealed class LstmKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Theory]
    [InlineData(false, 0f, false, false)]
    [InlineData(true, 0f, false, true)]
    [InlineData(true, 0.6f, false, true)]
    [InlineData(false, 0f, true, true)]
    public void Step_matches_the_onnx_formulas(bool peep, float clip, bool inputForget, bool withLens)
    {
        const int S = 4, B = 3, H = 5, D = 2;
        int[] lens = withLens ? [4, 0, 2] : [S, S, S];
        var proj = Values(S * B * D * 4 * H, 1);
        var p = Values(D * 3 * H, 2, -0.7f, 0.7f);
        var h0 = Values(D * B * H, 3, -0.8f, 0.8f);
        var c0 = Values(D * B * H, 4, -1.5f, 1.5f);
        double[] hr = [.. h0.Select(v => (double)v)], cr = [.. c0.Select(v => (double)v)];
        var yr = new double[S * D * B * H];
        using var projB = _h.Upload(proj);
        using var pB = _h.Upload(p);
        using var lensB = _h.Upload(lens);
        using var hB = _h.Upload(h0);
        using var cB = _h.Upload(c0);
        using var yB = _h.Zeros<float>(yr.Length);
        double Sig(double v) => 1 / (1 + Math.Exp(-v));
        double Clip(double v) => clip > 0 ? Math.Clamp(v, -clip, clip) : v;
        for (int k = 0; k < S; k++)
        {
            var rec = Values(D * B * 4 * H, 10 + k);
            using var recB = _h.Upload(rec);
            var args = new LstmStepArgs
            {
                Steps = S, Batch = B, Hidden = H, Dirs = D, Step = k, ReverseMask = 2,
                HasPeepholes = peep ? 1 : 0, HasLens = withLens ? 1 : 0, InputForget = inputForget ? 1 : 0, Clip = clip,
            };
            _h.Launch(typeof(LstmKernels), nameof(LstmKernels.Step), grid: 1, group: 16,
                recB.View, projB.View, pB.View, lensB.View, hB.View, cB.View, yB.View, args);
            for (int d = 0; d < D; d++)
                for (int b = 0; b < B; b++)
                {
                    if (k >= lens[b]) continue;
                    int t = d == 1 ? lens[b] - 1 - k : k;
                    for (int j = 0; j < H; j++)
                    {
                        double G(int gate) => rec[(d * B + b) * 4 * H + gate * H + j] + proj[(t * B + b) * D * 4 * H + d * 4 * H + gate * H + j];
                        double P(int gate) => peep ? p[d * 3 * H + gate * H + j] : 0;
                        int si = (d * B + b) * H + j;
                        double cp = cr[si];
                        double i = Sig(Clip(G(0) + P(0) * cp));
                        double f = inputForget ? 1 - i : Sig(Clip(G(2) + P(2) * cp));
                        double cn = f * cp + i * Math.Tanh(Clip(G(3)));
                        double hn = Sig(Clip(G(1) + P(1) * cn)) * Math.Tanh(cn);
                        cr[si] = cn;
                        hr[si] = hn;
                        yr[((t * D + d) * B + b) * H + j] = hn;
                    }
                }
        }
        AssertClose(hr, _h.Download(hB));
        AssertClose(cr, _h.Download(cB));
        var y = _h.Download(yB);
        AssertClose(yr, y);
        if (withLens) // row 1 has length 0: its states stay the initial ones and y stays 0 for it
        {
            for (int j = 0; j < H; j++) Assert.Equal(h0[(1 * B + 1) * H + j], _h.Download(hB)[(1 * B + 1) * H + j]);
            for (int t = 0; t < S; t++) for (int j = 0; j < H; j++) Assert.Equal(0f, y[((t * D + 0) * B + 1) * H + j]);
        }
    }
}
