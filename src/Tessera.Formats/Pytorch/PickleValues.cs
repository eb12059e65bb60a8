namespace Tessera.Formats.Pytorch;

// What a pickle is allowed to build: Python's None (null), bool, int (long), float (double), str (string) and bytes
// (byte[]) as .NET values, and the few containers and torch objects below. Nothing here can run code.

/// <summary>A Python tuple (also what <c>torch.Size</c> rebuilds to).</summary>
internal sealed class PyTuple(object?[] items)
{
    public object?[] Items { get; } = items;

    public static readonly PyTuple Empty = new([]);
}

/// <summary>A Python list (also sets and frozensets, which a checkpoint's data never depends on the order of).</summary>
internal sealed class PyList : List<object?>;

/// <summary>A Python dict or <c>collections.OrderedDict</c>: insertion order kept, a repeated key replaces the value in
/// place as Python does. Keys are compared by value (strings, ints, floats, bools, None).</summary>
internal sealed class PyDict
{
    private readonly Dictionary<object, int> _index = [];
    private static readonly object NoneKey = new();

    public List<KeyValuePair<object?, object?>> Items { get; } = [];

    public void Set(object? key, object? value)
    {
        object k = key ?? NoneKey;
        if (_index.TryGetValue(k, out int i)) Items[i] = new(key, value);
        else
        {
            _index[k] = Items.Count;
            Items.Add(new(key, value));
        }
    }
}

/// <summary>A name from the allow-list (<see cref="PickleGlobals"/>), pushed by GLOBAL or STACK_GLOBAL: a tensor
/// rebuilder, a storage type or a container class. Never looked up anywhere, never called.</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
}

/// <summary>A tensor's storage as the checkpoint's persistent id names it: <c>('storage', torch.FloatStorage, key,
/// location, numel)</c>, resolved to its zip member.</summary>
internal sealed record PthStorage(string Key, PthStorageType Type, long Count, ZipEntry Entry);

/// <summary>What <c>torch._utils._rebuild_tensor_v2</c> would build: a strided view of a storage (offset and strides in
/// elements).</summary>
internal sealed record PthTensorView(PthStorage Storage, long Offset, long[] Size, long[] Stride);
