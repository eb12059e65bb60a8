using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Attention;

/// <summary>2^x for the softmax of flash attention, where every argument is s - max &lt;= 0 (log2 units: the scale
/// carries log2 e). .NET's Vector512.Exp evaluates in double for full accuracy and costs several times more;
/// attention computes S^2 of these, so a short form matters: n = round(x), f = x - n in [-1/2, 1/2],
/// 2^f by its degree-6 Taylor polynomial (truncation below 1.3e-7 relative, about 1 ulp), then 2^n applied
/// with vscalefps (AVX-512) or by adding n to the exponent bits. Arguments below -126 (and -inf, masked keys)
/// return 0, so that a row with no visible key keeps a zero sum.</summary>
internal static class FastExp2
{
    private const float C1 = 0.693147180559945f, C2 = 0.240226506959101f, C3 = 0.0555041086648216f,
        C4 = 0.00961812910762848f, C5 = 0.00133335581464284f, C6 = 0.000154035303933816f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp2(Vector512<float> x)
    {
        // vscalefps flushes 2^-160 to 0: masked keys weigh nothing. Avx512F.Max is the bare vmaxps; .NET 9+
        // Vector512.Max adds NaN / signed-zero fix-ups that cost more than the rest of the exponential.
        x = Avx512F.Max(x, Vector512.Create(-160f));
        var n = Avx512F.RoundScale(x, 0x08); // round to nearest, no exceptions
        var f = x - n;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(C6), f, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(C1));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(1f));
        return Avx512F.Scale(p, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2(Vector256<float> x)
    {
        var under = Vector256.LessThan(x, Vector256.Create(-126f));
        x = Vector256.Max(x, Vector256.Create(-126f));
        var n = Vector256.Round(x);
        var f = x - n;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(C6), f, Vector256.Create(C5));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(C3));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(C1));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(1f));
        var bits = (Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23;
        return Vector256.ConditionalSelect(under, Vector256<float>.Zero, p * bits.AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp2(float x) => x < -126f ? 0f : MathF.Exp(x * 0.693147180559945f);
}
