using Tessera.Cpu;

namespace Tessera.Tests;

/// <summary>The CPU backend's operand checks: a failed check still names the shapes; a passing one formats nothing
/// (its message is an interpolated-string handler), so an op called per decoded token makes little garbage.</summary>
public class CpuCheckMessageTests
{
    [Fact]
    public void A_failed_backend_check_names_the_shapes()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var a = Tensor.Zeros(cpu, DType.F32, new Shape(2, 3));
        using var b = Tensor.Zeros(cpu, DType.F32, new Shape(3, 4));
        using var dst = Tensor.Zeros(cpu, DType.F32, new Shape(2, 5));
        var e = Assert.Throws<TesseraException>(() => cpu.MatMul(a, b, dst, MatMulEpilogue.None));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[3, 4]", e.Message);
        Assert.Contains("[2, 5]", e.Message);
    }

    [Fact]
    public void A_passing_backend_check_formats_no_message()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var x = Tensor.Zeros(cpu, DType.F32, new Shape(1, 1, 768));
        using var w = Tensor.Zeros(cpu, DType.F32, new Shape(1, 768, 768));
        using var y = Tensor.Zeros(cpu, DType.F32, new Shape(1, 1, 768));
        using var g = Tensor.Zeros(cpu, DType.F32, new Shape(768));
        for (int i = 0; i < 3; i++) { cpu.MatMul(x, w, y, MatMulEpilogue.None); cpu.RmsNorm(x, g, 1e-5f, y); } // JIT and first-use state
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) { cpu.MatMul(x, w, y, MatMulEpilogue.None); cpu.RmsNorm(x, g, 1e-5f, y); }
        long perPair = (GC.GetAllocatedBytesForCurrentThread() - before) / 10;
        // Eager messages cost ~4 KB a matmul and ~1 KB an rmsnorm; what is left is the ops' own bookkeeping.
        Assert.True(perPair < 2500, $"a matmul and an rmsnorm allocated {perPair} managed bytes");
    }
}
