namespace Tessera;

/// <summary>Kinds of device a backend can run on.</summary>
public enum DeviceKind
{
    /// <summary>The host processor.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through the CUDA driver.</summary>
    Cuda,
}

/// <summary>A device: a kind and an ordinal ("cpu", "cuda:1").</summary>
public readonly record struct Device(DeviceKind Kind, int Ordinal = 0)
{
    /// <summary>The host processor.</summary>
    public static Device Cpu => new(DeviceKind.Cpu);

    /// <inheritdoc/>
    public override string ToString() => Kind == DeviceKind.Cpu ? "cpu" : $"{Kind.ToString().ToLowerInvariant()}:{Ordinal}";
}
