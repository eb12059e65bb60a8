namespace Tessera.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst) => throw new NotImplementedException("TODO");

    /// <inheritdoc/>
    public void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst) => throw new NotImplementedException("TODO");

}
