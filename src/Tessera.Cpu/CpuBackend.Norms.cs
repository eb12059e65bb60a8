namespace Tessera.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, Tensor dst) => throw new NotImplementedException("TODO");

    /// <inheritdoc/>
    public void RmsNorm(Tensor x, Tensor? weight, float eps, Tensor dst) => throw new NotImplementedException("TODO");

}
