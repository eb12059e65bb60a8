namespace Tessera.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor x, Tensor dst) => throw new NotImplementedException("TODO");

    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst) => throw new NotImplementedException("TODO");

    /// <inheritdoc/>
    public void Affine(Tensor x, Tensor dst, double mul, double add) => throw new NotImplementedException("TODO");

}
