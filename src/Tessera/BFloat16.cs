using System.Runtime.CompilerServices;

namespace Tessera;

/// <summary>bfloat16: the upper 16 bits of an IEEE binary32. .NET has no such type, so this is a
/// plain 16-bit struct with round-to-nearest-even conversion, layout-compatible with safetensors and GGUF.</summary>
public readonly struct BFloat16 : IEquatable<BFloat16>
{
    /// <summary>The raw bits.</summary>
    public readonly ushort Bits;

    /// <summary>Wraps raw bits.</summary>
    public BFloat16(ushort bits) => Bits = bits;

    /// <summary>Rounds an f32 to the nearest bf16 (ties to even); NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BFloat16 FromSingle(float f) => new(Round(f));

    /// <summary>Rounds an f32 to bf16 bits (ties to even); NaN stays a quiet NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Round(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((u >> 16) | 0x40);
        u += 0x7FFF + ((u >> 16) & 1);
        return (ushort)(u >> 16);
    }

    /// <summary>Widens bf16 bits to f32 exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Widens to f32 exactly.</summary>
    public static explicit operator float(BFloat16 b) => ToSingle(b.Bits);

    /// <summary>Rounds to bf16.</summary>
    public static explicit operator BFloat16(float f) => FromSingle(f);

    /// <inheritdoc/>
    public bool Equals(BFloat16 other) => Bits == other.Bits;
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BFloat16 b && Equals(b);
    /// <inheritdoc/>
    public override int GetHashCode() => Bits;
    /// <inheritdoc/>
    public override string ToString() => ToSingle(Bits).ToString();
}
