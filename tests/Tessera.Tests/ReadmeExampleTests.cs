using Tessera.Cpu;

namespace Tessera.Tests;

/// <summary>The README's library example, kept compiling and correct.</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void LinearWithConstantWeightAndGeluEpilogue()
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        float[] result, want;
        using (var scope = TensorScope.Begin())
        {
            var xs = Enumerable.Range(0, 197 * 768).Select(i => (float)Math.Sin(i)).ToArray();
            var ws = Enumerable.Range(0, 3072 * 768).Select(i => (float)Math.Cos(i) * 0.05f).ToArray();
            var x = Tensor.FromArray(cpu, xs, 197, 768);
            var w = Tensor.FromArray(cpu, ws, 3072, 768).AsConstant();
            var b = Tensor.Zeros(cpu, DType.F32, new Shape(3072));
            var h = x.Linear(w, new MatMulEpilogue(Bias: b, Activation: Activation.Gelu));
            result = h.ToArray<float>();
            var plain = x.MatMul(Tensor.FromArray(cpu, ws, 3072, 768).T).Gelu();
            want = plain.ToArray<float>();
        }
        Assert.Equal(197 * 3072, result.Length);
        double err = 0, norm = 0;
        for (int i = 0; i < want.Length; i++) { err += Math.Pow(want[i] - result[i], 2); norm += (double)want[i] * want[i]; }
        Assert.True(err < 1e-10 * norm, $"nmse {err / norm:E2}");
    }
}
