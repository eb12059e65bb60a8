namespace Tessera.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Rope(Tensor x, Tensor cos, Tensor sin, RopeMode mode, Tensor dst) => throw new NotImplementedException("TODO");

}
