namespace Tessera.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void InterpolateBicubic(Tensor x, bool alignCorners, Tensor dst) => throw new NotImplementedException("TODO");

}
