using Tessera.Cpu;

namespace Tessera.Tests;

public class SmokeTests
{
    [Fact]
    public void ContiguousRoundTrip()
    {
        using var t = Tensor.FromArray(CpuBackend.Default, new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var tt = t.T;
        using var c = tt.Contiguous();
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, c.ToArray<float>());
    }
}
