namespace Tessera.Tests;

/// <summary>A backend that implements only what IBackend requires, each by refusing: the default interface bodies
/// of the optional ops (pooling, transposed convolution, attention, ...) are what a test of it exercises.</summary>
internal sealed class BareBackend(IBackend inner) : IBackend
{
    public string Name => "bare";
    public Device Device => inner.Device;
    public Storage Allocate(long byteLength) => throw new NotSupportedException();
    public void CopyFromHost(ReadOnlySpan<byte> source, Storage destination, long destinationByteOffset) => throw new NotSupportedException();
    public void CopyToHost(Storage source, long sourceByteOffset, Span<byte> destination) => throw new NotSupportedException();
    public void Copy(Tensor src, Tensor dst) => throw new NotSupportedException();
    public void Fill(Tensor dst, double value) => throw new NotSupportedException();
    public void Unary(UnaryOp op, Tensor x, Tensor dst) => throw new NotSupportedException();
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst) => throw new NotSupportedException();
    public void Affine(Tensor x, Tensor dst, double mul, double add) => throw new NotSupportedException();
    public void MatMul(Tensor a, Tensor b, Tensor dst, MatMulEpilogue epilogue) => throw new NotSupportedException();
    public void Softmax(Tensor x, Tensor? mask, float scale, Tensor dst) => throw new NotSupportedException();
    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, Tensor dst) => throw new NotSupportedException();
    public void RmsNorm(Tensor x, Tensor? weight, float eps, Tensor dst) => throw new NotSupportedException();
    public void Rope(Tensor x, Tensor cos, Tensor sin, RopeMode mode, Tensor dst) => throw new NotSupportedException();
    public void Gather(Tensor table, Tensor ids, Tensor dst) => throw new NotSupportedException();
    public void Reduce(ReduceOp op, Tensor x, int axis, Tensor dst) => throw new NotSupportedException();
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst) => throw new NotSupportedException();
    public void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst) => throw new NotSupportedException();
    public void InterpolateBicubic(Tensor x, bool alignCorners, Tensor dst) => throw new NotSupportedException();
    public void Dispose() { }
}
