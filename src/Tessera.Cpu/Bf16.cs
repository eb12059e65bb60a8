using System.Runtime.Intrinsics;

namespace Tessera.Cpu;

/// <summary>Vectorised bf16 &lt;-&gt; f32 conversion (bf16 is the top half of an f32; rounding is to nearest even).</summary>
internal static unsafe class Bf16
{
    public static void ToF32(ushort* s, float* d, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16)
            {
                var w = Vector512.WidenLower(Vector512.Create(Vector256.Load(s + i), Vector256<ushort>.Zero));
                Vector512.ShiftLeft(w, 16).AsSingle().Store(d + i);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
            {
                var w = Vector256.WidenLower(Vector256.Create(Vector128.Load(s + i), Vector128<ushort>.Zero));
                Vector256.ShiftLeft(w, 16).AsSingle().Store(d + i);
            }
        for (; i < n; i++) d[i] = BFloat16.ToSingle(s[i]);
    }

    public static void FromF32(float* s, ushort* d, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var half = Vector512.Create(0x7FFFu);
            var one = Vector512<uint>.One;
            var expMask = Vector512.Create(0x7F80_0000u);
            for (; i + 16 <= n; i += 16)
            {
                var u = Vector512.Load((uint*)(s + i));
                // NaNs keep their payload's top bits and become quiet; everything else rounds to nearest even.
                var isNan = Vector512.GreaterThan(u & Vector512.Create(0x7FFF_FFFFu), expMask);
                var rounded = (u + half + ((u >> 16) & one)) >> 16;
                var nan = (u >> 16) | Vector512.Create(0x40u);
                var r = Vector512.ConditionalSelect(isNan, nan, rounded);
                Vector512.Narrow(r, Vector512<uint>.Zero).GetLower().Store(d + i);
            }
        }
        for (; i < n; i++) d[i] = BFloat16.Round(s[i]);
    }
}
