namespace Tessera.Cuda;

// Ops whose kernel families are not written yet. Each throws until its family lands in kernels/Tessera.Kernels
// (the build then compiles it into the manifest) and is wired here. None at present: conv2d and patch embedding
// moved to CudaBackend.Conv.cs, attention and paged attention to CudaBackend.Attention.cs.
public sealed partial class CudaBackend
{
    /// <summary>The error of an op that has no kernel yet.</summary>
    internal static TesseraException NoKernel(string op) => new($"cuda backend: {op} has no kernel yet");
}
