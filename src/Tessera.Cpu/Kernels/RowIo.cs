using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Tessera.Cpu.Kernels;

/// <summary>Moves one row (a run along the last axis) of any float dtype and any inner stride in and out of f32,
/// so that every float op needs only an f32 kernel over contiguous runs: the row itself is used when it is
/// already contiguous f32, otherwise it is converted or gathered into a scratch buffer.</summary>
internal static unsafe class RowIo
{
    /// <summary>n values of the row at p (element stride <paramref name="stride"/>, dtype t) as contiguous f32:
    /// p itself when it already is, else buf filled with the converted values (stride 0 repeats one value).</summary>
    public static float* Load(byte* p, DType t, long stride, int n, float* buf)
    {
        if (t == DType.F32 && stride == 1) return (float*)p;
        if (stride == 0)
        {
            new Span<float>(buf, n).Fill((float)Elements.Read(p, t));
            return buf;
        }
        if (stride == 1)
        {
            switch (t)
            {
                case DType.F16: TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(p, n), new Span<float>(buf, n)); return buf;
                case DType.BF16: Bf16.ToF32((ushort*)p, buf, n); return buf;
            }
        }
        if (t == DType.F32)
        {
            float* s = (float*)p;
            for (int i = 0; i < n; i++) buf[i] = s[i * stride];
            return buf;
        }
        int es = CpuBackend.ElementSize(t);
        for (int i = 0; i < n; i++) buf[i] = (float)Elements.Read(p + i * stride * es, t);
        return buf;
    }

    /// <summary>One value at p as f32.</summary>
    public static float LoadOne(byte* p, DType t) => t == DType.F32 ? *(float*)p : (float)Elements.Read(p, t);

    /// <summary>Writes n f32 values into the row at p (dtype t, element stride <paramref name="stride"/>); a no-op
    /// when src already is that row.</summary>
    public static void Store(float* src, byte* p, DType t, long stride, int n)
    {
        if (t == DType.F32 && stride == 1)
        {
            if (src != (float*)p) Buffer.MemoryCopy(src, p, (long)n * 4, (long)n * 4);
            return;
        }
        if (stride == 1)
        {
            switch (t)
            {
                case DType.F16: TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(src, n), new Span<Half>(p, n)); return;
                case DType.BF16: Bf16.FromF32(src, (ushort*)p, n); return;
            }
        }
        int es = CpuBackend.ElementSize(t);
        for (int i = 0; i < n; i++) Elements.Write(p + i * stride * es, t, src[i]);
    }

    /// <summary>Whether a row of dtype t and inner stride can be written in place as f32.</summary>
    public static bool IsDirectF32(DType t, long stride) => t == DType.F32 && stride == 1;
}

/// <summary>A 64-byte aligned native f32 buffer for per-thread scratch rows that may be too long for the stack.</summary>
internal readonly unsafe struct Scratch : IDisposable
{
    public readonly float* P;

    public Scratch(long count) => P = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(count, 1) * 4, 64);

    public void Dispose() => NativeMemory.AlignedFree(P);
}
