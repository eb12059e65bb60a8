namespace Tessera.Cuda;

/// <summary>Device memory of one CUDA device, shared by the tensor views onto it and freed (cuMemFree) when the
/// last of them is disposed, never left to the garbage collector.</summary>
public sealed class CudaStorage : Storage
{
    internal CudaStorage(CudaBackend backend, DeviceMemory memory, long byteLength) : base(backend, byteLength) => Memory = memory;

    internal DeviceMemory Memory { get; }

    /// <summary>The device address of byte 0.</summary>
    public ulong DevicePointer => Memory.Address;

    /// <inheritdoc/>
    protected override void Free() => Memory.Dispose();
}
