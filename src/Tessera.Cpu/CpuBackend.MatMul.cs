namespace Tessera.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void MatMul(Tensor a, Tensor b, Tensor dst, MatMulEpilogue epilogue) => throw new NotImplementedException("TODO");

}
