namespace Tessera.Formats.Pytorch;

/// <summary>A torch storage class (<c>torch.FloatStorage</c>, ...) as pickled checkpoints name their tensors' element
/// type: torch's dtype name, the Tessera dtype (null when Tessera cannot hold it: such a tensor is listed, not loaded)
/// and the element size.</summary>
/// <param name="StorageName">The class name in the pickle ("FloatStorage").</param>
/// <param name="TorchName">torch's dtype name ("float32").</param>
/// <param name="DType">The Tessera dtype, or null.</param>
/// <param name="ElementSize">Bytes per element.</param>
internal sealed record PthStorageType(string StorageName, string TorchName, DType? DType, int ElementSize)
{
    private static readonly Dictionary<string, PthStorageType> ByName = new PthStorageType[]
    {
        new("FloatStorage", "float32", Tessera.DType.F32, 4),
        new("HalfStorage", "float16", Tessera.DType.F16, 2),
        new("BFloat16Storage", "bfloat16", Tessera.DType.BF16, 2),
        new("DoubleStorage", "float64", null, 8),
        new("LongStorage", "int64", Tessera.DType.I64, 8),
        new("IntStorage", "int32", Tessera.DType.I32, 4),
        new("ShortStorage", "int16", null, 2),
        new("CharStorage", "int8", Tessera.DType.I8, 1),
        new("ByteStorage", "uint8", Tessera.DType.U8, 1),
        new("BoolStorage", "bool", Tessera.DType.U8, 1), // bytes of 0 and 1, as safetensors' BOOL is read
    }.ToDictionary(t => t.StorageName);

    /// <summary>The storage classes, by their name in module <c>torch</c>.</summary>
    public static IEnumerable<string> Names => ByName.Keys;

    /// <summary>The type of <c>torch.{name}</c>, or null.</summary>
    public static PthStorageType? Find(string name) => ByName.GetValueOrDefault(name);
}
