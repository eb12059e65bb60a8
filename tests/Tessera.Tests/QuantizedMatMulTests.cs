using Tessera.Cpu;

namespace Tessera.Tests;

/// <summary>The quantized matmul's errors. Its comparisons with the naive product of the dequantized weight (every
/// format, odd shapes, epilogues, constant repacked weights, bf16 activations) are rows of the op table
/// (OpTable.Quantized.cs), run on every backend.</summary>
public class QuantizedMatMulTests
{
    [Theory]
    [InlineData(DType.Q4_0, 48)]
    [InlineData(DType.Q8_0, 40)]
    [InlineData(DType.Q4_K, 288)]
    public void KNotAMultipleOfTheBlockIsRefused(DType type, int k)
    {
        var cpu = new CpuBackend();
        int n = 2 * type.BlockSize(); // so that N * K fills whole blocks and the tensor itself can exist
        using var storage0 = Tensor.Zeros(cpu, DType.U8, new Shape((int)type.ByteCount((long)n * k)));
        using var w = Tensor.FromStorage(storage0.Storage, type, new Shape(n, k));
        using var x = Tensor.Zeros(cpu, DType.F32, new Shape(3, k));
        var e = Assert.Throws<TesseraException>(() => x.Linear(w).Dispose());
        Assert.Contains($"[{n}, {k}]", e.Message);
        Assert.Contains(type.BlockSize().ToString(), e.Message);
    }
}
