namespace Tessera.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Softmax(Tensor x, Tensor? mask, float scale, Tensor dst) => throw new NotImplementedException("TODO");

}
