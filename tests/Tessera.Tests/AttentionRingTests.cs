using Tessera.Attention;
using Tessera.Cpu;
using Xunit;
using static Tessera.Tests.AttentionTestKit;

namespace Tessera.Tests;

/// <summary>Ring attention over N in-process CPU devices equals full attention (FlashAttention's rule against the
/// fp64 reference), for N = 1..8, even and uneven splits, causal or not, GQA, windows.</summary>
public class AttentionRingTests
{
    private static readonly IBackend[] Devices = Enumerable.Range(0, 8).Select(_ => (IBackend)new CpuBackend(new CpuBackendOptions(Threads: 1))).ToArray();

    private static async Task Check(int[] lengths, AttentionOptions o, int hq = 4, int hkv = 2, int d = 32, int seed = 1)
    {
        int s = lengths.Sum();
        var p = Problem(seed, 1, hq, hkv, s, s, d, o);
        var host = TestBackends.Get(TestBackends.Names.First());
        using var q = Q(host, p);
        using var k = K(host, p);
        using var v = V(host, p);
        var outs = await RingAttention.RunInProcessAsync(Devices.Take(lengths.Length).ToArray(), q, k, v, lengths, o);
        var moved = outs.Select(t => t.ToBackend(host)).ToArray();
        foreach (var t in outs) t.Dispose();
        using var all = Tensor.Concat(2, moved);
        foreach (var t in moved) t.Dispose();
        AssertClose(p, all.ToFloatArray(), $"ring [{string.Join(", ", lengths)}] causal {o.Causal} window {o.WindowLeft}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EqualsFullAttentionForOneToEightDevices(bool causal)
    {
        for (int n = 1; n <= 8; n++) await Check(Enumerable.Repeat(24, n).ToArray(), new() { Causal = causal }, seed: n);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UnevenSplits(bool causal)
    {
        await Check([5, 1, 40, 17], new() { Causal = causal }, seed: 11);
        await Check([100, 3, 3], new() { Causal = causal }, 12, 4, 64, seed: 12);
        await Check([1, 2, 3, 4, 5, 6, 7], new() { Causal = causal }, 6, 1, 32, seed: 13);
    }

    [Fact]
    public async Task SlidingWindowSkipsFarBlocks()
    {
        await Check([16, 16, 16, 16, 16], new() { Causal = true, WindowLeft = 20 }, seed: 21);
        await Check([30, 9, 21], new() { WindowLeft = 7, WindowRight = 12 }, seed: 22);
    }

    [Fact]
    public async Task TransportPassesBlocksAroundTheRing()
    {
        var t = InProcessRing.Create(Devices.Take(3).ToArray());
        using var k = Tensor.Full(Devices[0], DType.F32, new Shape(1, 1, 2, 4), 7);
        using var blk = new KvBlock(k.Share(), k.Share(), 5);
        await t[0].SendAsync(blk);
        using var got = await t[1].ReceiveAsync();
        Assert.Same(Devices[1], got.K.Backend);
        Assert.Equal(5, got.Start);
        Assert.All(got.V.ToFloatArray(), x => Assert.Equal(7f, x));
    }
}
