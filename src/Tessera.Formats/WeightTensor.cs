using System.Runtime.InteropServices;

namespace Tessera.Formats;

/// <summary>A tensor to be written: name, dtype, dims (outermost first) and a producer of its bytes, called once,
/// in file order, while the file is written, so that a writer never holds more than one tensor's bytes.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DType">Its element type.</param>
/// <param name="Dims">Its dimensions, outermost first.</param>
/// <param name="Data">Returns exactly <c>DType.ByteCount(product of Dims)</c> bytes.</param>
public sealed record WeightTensor(string Name, DType DType, long[] Dims, Func<ReadOnlyMemory<byte>> Data)
{
    /// <summary>Bytes the data must have.</summary>
    public long ByteLength => DType.ByteCount(Dims.Aggregate(1L, (a, d) => checked(a * d)));

    /// <summary>A tensor over bytes already in memory.</summary>
    public static WeightTensor FromBytes(string name, DType dtype, long[] dims, byte[] bytes) => new(name, dtype, dims, () => bytes);

    /// <summary>A tensor over plain values (float, Half, int, ...).</summary>
    public static WeightTensor FromValues<T>(string name, long[] dims, T[] values) where T : unmanaged =>
        new(name, DTypeInfo.Of<T>(), dims, () => MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>A Tessera tensor (any device, any view); its bytes are copied to the host when the writer asks.</summary>
    public static WeightTensor FromTensor(string name, Tensor tensor)
    {
        var dims = tensor.Shape.Dims.ToArray().Select(d => (long)d).ToArray();
        return new(name, tensor.DType, dims, () =>
        {
            using var c = tensor.Contiguous();
            var bytes = new byte[c.DType.ByteCount(c.ElementCount)];
            c.Backend.CopyToHost(c.Storage, c.DType.ByteCount(c.Offset), bytes);
            return bytes;
        });
    }

    internal ReadOnlyMemory<byte> TakeData(string file)
    {
        var data = Data();
        if (data.Length != ByteLength)
            throw new TesseraException($"{file}: tensor '{Name}' ({DType.Name()} [{string.Join(", ", Dims)}]) needs {ByteLength} bytes, its producer gave {data.Length}");
        return data;
    }
}
