namespace Tessera.Cuda;

// Ops whose kernel families are not written yet. Each throws until its family lands in kernels/Tessera.Kernels
// (the build then compiles it into the manifest) and is wired here.
public sealed partial class CudaBackend
{
    private static TesseraException NoKernel(string op) => new($"cuda backend: {op} has no kernel yet");

    /// <inheritdoc/>
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst) => throw NoKernel("conv2d");

    /// <inheritdoc/>
    public void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst) => throw NoKernel("patch_embed");
}
