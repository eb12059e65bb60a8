namespace Tessera.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Gather(Tensor table, Tensor ids, Tensor dst) => throw new NotImplementedException("TODO");

}
