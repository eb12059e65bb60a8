using System.Runtime.InteropServices;

namespace Tessera;

// Copies out of a tensor: into a view of another tensor (a KV cache slot, a slice of a concatenation built in
// place), or into host memory the caller owns.
public sealed partial class Tensor
{
    /// <summary>Writes this tensor into <paramref name="destination"/>, typically a <see cref="Narrow"/> or
    /// <see cref="Slice"/> view of a larger tensor (the rest of which is left untouched): this tensor broadcasts to
    /// the destination's shape and is converted to its dtype. The destination must not repeat an element
    /// (a broadcast view) and should not overlap this tensor's memory.</summary>
    public void CopyInto(Tensor destination)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(destination);
        SameBackend("copy_into", destination);
        for (int i = 0; i < destination.Rank; i++)
            if (destination.Strides[i] == 0 && destination.Shape[i] > 1)
                throw new TesseraException($"copy_into: destination {destination.Shape} repeats elements along axis {i} (a broadcast view)");
        if (destination.DType != DType && (DType.IsBlock() || destination.DType.IsBlock()))
            throw new TesseraException($"copy_into {DType.Name()} {Shape} to {destination.DType.Name()} {destination.Shape}: block types copy only unconverted");
        Tensor src;
        try { src = BroadcastTo(destination.Shape); }
        catch (TesseraException e) { throw new TesseraException($"copy_into: source {Shape} does not fit the destination {destination.Shape}: {e.Message}", e); }
        using (src) Backend.Copy(src, destination);
    }

    /// <summary>Copies the elements, in row-major order, into <paramref name="destination"/> (at least
    /// <see cref="ElementCount"/> long; the rest is left as it is). T must be this tensor's element type
    /// (float for f32, Half for f16, BFloat16 for bf16, sbyte, byte, int, long); strided views are copied in order.</summary>
    public void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        ThrowIfDisposed();
        DType want;
        try { want = DTypeInfo.Of<T>(); }
        catch (TesseraException) { throw new TesseraException($"CopyTo<{typeof(T).Name}>: no tensor element type is {typeof(T).Name} (tensor {DType.Name()} {Shape})"); }
        if (want != DType)
            throw new TesseraException($"CopyTo<{typeof(T).Name}> on a {DType.Name()} tensor of shape {Shape}; convert with To({want.Name()}) first or copy into a {DType.Name()} span");
        if (destination.Length < ElementCount)
            throw new TesseraException($"CopyTo: a span of {destination.Length} {typeof(T).Name} cannot hold the {ElementCount} elements of {Shape}");
        using var c = Contiguous();
        var bytes = MemoryMarshal.AsBytes(destination[..checked((int)ElementCount)]);
        c.Backend.CopyToHost(c.Storage, c.DType.ByteCount(c.Offset), bytes);
    }
}
