using Tessera.Cpu;
using Tessera.Tests.Reference;

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
        Nmse.Below(want, result, 1e-10, "the fused linear layer against matmul then GELU");
    }
}
