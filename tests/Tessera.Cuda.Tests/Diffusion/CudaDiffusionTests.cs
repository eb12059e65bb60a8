using Tessera.Tests.Reference;

namespace Tessera.Cuda.Tests.Diffusion;

/// <summary>The diffusion networks end to end on CudaBackend against the CPU backend (issue 15, item 8), where a
/// driver and a device exist; elsewhere each case is reported as skipped with the reason. The same tiny random
/// checkpoints and inputs as the op audit (<see cref="DiffusionOpAuditTests"/>): DiT and MMDiT forwards, a 2-step DDIM
/// loop with classifier-free guidance on the DiT and a 2-step flow-matching Euler loop on the MMDiT, AutoencoderKL
/// decode, encode and tiled decode (the wide one through the unfused attention), TAESD and TAEF2 both ways.
/// Tolerances, as normalised MSE against the CPU: 1e-6 for one forward (a chain of f32 ops each held to 1e-7, with
/// different summation orders and PTX's approximate exp and sin), 1e-5 for the 2-step loops (guidance scales the
/// difference of two forwards by 4, and each step feeds the next).</summary>
public sealed class CudaDiffusionTests(TinyDiffusionCheckpoints files) : CudaOpTestBase, IClassFixture<TinyDiffusionCheckpoints>
{
    public const double ForwardBound = 1e-6, LoopBound = 1e-5;

    public static TheoryData<string> Workloads => [.. DiffusionWorkloads.All.Keys];

    [SkippableTheory]
    [MemberData(nameof(Workloads))]
    public void Network_on_cuda_matches_cpu(string workload)
    {
        var gpu = Gpu;
        var run = DiffusionWorkloads.All[workload];
        var want = run(_cpu, files);
        var got = run(gpu, files);
        Assert.Equal(want.Length, got.Length);
        double bound = workload.Contains("steps", StringComparison.Ordinal) ? LoopBound : ForwardBound;
        Nmse.Below(want, got, bound, $"{workload}: cuda against cpu");
    }
}
