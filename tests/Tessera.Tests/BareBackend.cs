namespace Tessera.Tests;

/// <summary>A backend with only what IBackend requires, each delegated to the CPU backend: the optional ops
/// (pooling, transposed convolution, attention, ...) keep IBackend's default bodies, which is what a test of it
/// exercises: the default bodies' refusals, and the op table's "unsupported" verdict for them.</summary>
internal sealed class BareBackend(IBackend inner) : IBackend
{
    public string Name => "bare";
    public Device Device => inner.Device;
    // Host memory owned by this backend, so that tensors made here dispatch their ops here (the CPU reads host storage).
    public Storage Allocate(long byteLength) => HostStorage.Allocate(this, byteLength);
    public void CopyFromHost(ReadOnlySpan<byte> source, Storage destination, long destinationByteOffset) => inner.CopyFromHost(source, destination, destinationByteOffset);
    public void CopyToHost(Storage source, long sourceByteOffset, Span<byte> destination) => inner.CopyToHost(source, sourceByteOffset, destination);
    public void Copy(Tensor src, Tensor dst) => inner.Copy(src, dst);
    public void Fill(Tensor dst, double value) => inner.Fill(dst, value);
    public void Unary(UnaryOp op, Tensor x, Tensor dst) => inner.Unary(op, x, dst);
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst) => inner.Binary(op, a, b, dst);
    public void Affine(Tensor x, Tensor dst, double mul, double add) => inner.Affine(x, dst, mul, add);
    public void MatMul(Tensor a, Tensor b, Tensor dst, MatMulEpilogue epilogue) => inner.MatMul(a, b, dst, epilogue);
    public void Softmax(Tensor x, Tensor? mask, float scale, Tensor dst) => inner.Softmax(x, mask, scale, dst);
    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, Tensor dst) => inner.LayerNorm(x, weight, bias, eps, dst);
    public void RmsNorm(Tensor x, Tensor? weight, float eps, Tensor dst) => inner.RmsNorm(x, weight, eps, dst);
    public void Rope(Tensor x, Tensor cos, Tensor sin, RopeMode mode, Tensor dst) => inner.Rope(x, cos, sin, mode, dst);
    public void Gather(Tensor table, Tensor ids, Tensor dst) => inner.Gather(table, ids, dst);
    public void Reduce(ReduceOp op, Tensor x, int axis, Tensor dst) => inner.Reduce(op, x, axis, dst);
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst) => inner.Conv2d(x, weight, bias, p, dst);
    public void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst) => inner.PatchEmbed(x, weight, bias, patch, dst);
    public void InterpolateBicubic(Tensor x, bool alignCorners, Tensor dst) => inner.InterpolateBicubic(x, alignCorners, dst);
    public void Dispose() { }
}
