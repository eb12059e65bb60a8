using ILGPU;
using ILGPU.Runtime.Cuda;
using Half = ILGPU.Half;

namespace Tessera.Kernels;

// Element-wise kernels: fill, copy (with dtype conversion), unary, binary and affine. Reference: the CPU
// backend (src/Tessera.Cpu/CpuBackend.Elementwise.cs, CpuBackend.Copy.cs) and the naive references of
// tests/Tessera.Tests. Every kernel is explicitly grouped and walks its elements with a grid-stride loop
// over 64-bit indices, so any grid the host picks covers any element count.
//
// Two shapes of each op: an f32 fast path for contiguous operands (one load, one store per element) and a
// general path for any float dtype and any strides (StridedLayout: up to 6 dimensions, stride 0 for a
// broadcast axis), which turns the flat output index into each operand's element offset. The op (UnaryOp,
// BinaryOp) is a uniform runtime argument: every thread of a launch takes the same branch, which costs
// nothing next to the memory traffic of an element-wise op, and keeps one kernel per shape instead of one
// per op. Branches are if-chains, not switch statements (ILGPU's O2 miscompiles a switch; we build at O1).

/// <summary>Element type codes the kernels understand; the same numbers as Tessera's DType for the plain types
/// (checked by a test, since this assembly does not reference the engine).</summary>
public static class ElementCodes
{
    public const int F32 = 0, F16 = 1, BF16 = 2, I8 = 3, U8 = 4, I32 = 5, I64 = 6;
}

/// <summary>Op codes: the values of Tessera's UnaryOp and BinaryOp (checked by a test).</summary>
public static class OpCodes
{
    public const int Neg = 0, Abs = 1, Exp = 2, Log = 3, Sqrt = 4, Rsqrt = 5, Square = 6, Tanh = 7, Sigmoid = 8,
        Relu = 9, Gelu = 10, GeluTanh = 11, QuickGelu = 12, Silu = 13, HardSwish = 14, HardSigmoid = 15, Sin = 16, Cos = 17;
    public const int Add = 0, Sub = 1, Mul = 2, Div = 3, Max = 4, Min = 5;
}

/// <summary>A strided view of up to six dimensions, passed by value to a kernel: the element type, the offset
/// of the first element and, right-aligned (D5 innermost, unused leading dimensions 1), the sizes and strides in
/// elements. The host merges dimensions that are contiguous in every operand before filling it.</summary>
public struct StridedLayout
{
    public long Offset;
    public int DType;
    public int Rank;
    public int D0, D1, D2, D3, D4, D5;
    public long S0, S1, S2, S3, S4, S5;

    /// <summary>The element offset of flat (row-major) index i.</summary>
    public readonly long OffsetOf(long i)
    {
        long off = Offset, q;
        q = i / D5; off += (i - q * D5) * S5; i = q;
        q = i / D4; off += (i - q * D4) * S4; i = q;
        q = i / D3; off += (i - q * D3) * S3; i = q;
        q = i / D2; off += (i - q * D2) * S2; i = q;
        q = i / D1; off += (i - q * D1) * S1; i = q;
        return off + i * S0;
    }
}

/// <summary>Loads and stores of one element of any plain dtype from untyped (byte) device memory.</summary>
public static class ElementIO
{
    public static float LoadF(ArrayView<byte> buf, int dtype, long i)
    {
        if (dtype == ElementCodes.F32) return buf.Cast<float>()[i];
        if (dtype == ElementCodes.F16) return (float)buf.Cast<Half>()[i];
        if (dtype == ElementCodes.BF16) return Bf16ToF32(buf.Cast<ushort>()[i]);
        return (float)LoadD(buf, dtype, i);
    }

    public static void StoreF(ArrayView<byte> buf, int dtype, long i, float v)
    {
        if (dtype == ElementCodes.F32) buf.Cast<float>()[i] = v;
        else if (dtype == ElementCodes.F16) buf.Cast<Half>()[i] = (Half)v;
        else if (dtype == ElementCodes.BF16) buf.Cast<ushort>()[i] = F32ToBf16(v);
        else StoreD(buf, dtype, i, v);
    }

    /// <summary>Any plain dtype as a double (exact for every integer type up to 2^53).</summary>
    public static double LoadD(ArrayView<byte> buf, int dtype, long i)
    {
        if (dtype == ElementCodes.I8) return (sbyte)buf[i];
        if (dtype == ElementCodes.U8) return buf[i];
        if (dtype == ElementCodes.I32) return buf.Cast<int>()[i];
        if (dtype == ElementCodes.I64) return buf.Cast<long>()[i];
        return LoadF(buf, dtype, i);
    }

    /// <summary>Stores a double, converting as C# casts do (integers truncate toward zero).</summary>
    public static void StoreD(ArrayView<byte> buf, int dtype, long i, double v)
    {
        if (dtype == ElementCodes.I8) buf[i] = (byte)(sbyte)v;
        else if (dtype == ElementCodes.U8) buf[i] = (byte)v;
        else if (dtype == ElementCodes.I32) buf.Cast<int>()[i] = (int)v;
        else if (dtype == ElementCodes.I64) buf.Cast<long>()[i] = (long)v;
        else StoreF(buf, dtype, i, (float)v);
    }

    /// <summary>Copies one element's bits (same dtype on both sides).</summary>
    public static void CopyRaw(ArrayView<byte> src, long si, ArrayView<byte> dst, long di, int size)
    {
        if (size == 4) dst.Cast<uint>()[di] = src.Cast<uint>()[si];
        else if (size == 2) dst.Cast<ushort>()[di] = src.Cast<ushort>()[si];
        else if (size == 8) dst.Cast<ulong>()[di] = src.Cast<ulong>()[si];
        else dst[di] = src[si];
    }

    public static int SizeOf(int dtype) =>
        dtype == ElementCodes.I64 ? 8 : dtype == ElementCodes.F32 || dtype == ElementCodes.I32 ? 4 :
        dtype == ElementCodes.F16 || dtype == ElementCodes.BF16 ? 2 : 1;

    public static float Bf16ToF32(ushort bits) => Interop.IntAsFloat((uint)bits << 16);

    /// <summary>Round to nearest even, NaN kept quiet (as Tessera's BFloat16.Round).</summary>
    public static ushort F32ToBf16(float v)
    {
        uint u = Interop.FloatAsInt(v);
        if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((u >> 16) | 0x40);
        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }
}

/// <summary>The scalar maths of the element-wise ops, written to match the CPU backend's VectorMath.</summary>
public static class ElementMath
{
    public static float Unary(int op, float x)
    {
        if (op == OpCodes.Neg) return -x;
        if (op == OpCodes.Abs) return Math.Abs(x);
        if (op == OpCodes.Exp) return MathF.Exp(x);
        if (op == OpCodes.Log) return MathF.Log(x);
        if (op == OpCodes.Sqrt) return MathF.Sqrt(x);
        if (op == OpCodes.Rsqrt) return 1f / MathF.Sqrt(x);
        if (op == OpCodes.Square) return x * x;
        if (op == OpCodes.Tanh) return 2f * Sigmoid(2f * x) - 1f;
        if (op == OpCodes.Sigmoid) return Sigmoid(x);
        if (op == OpCodes.Relu) return x > 0f ? x : (IsNaN(x) ? x : 0f);
        if (op == OpCodes.Gelu) return 0.5f * x * (1f + Erf(x * 0.70710678118654752f));
        if (op == OpCodes.GeluTanh) return x * Sigmoid(x * (2f * 0.79788456080286536f + x * x * (2f * 0.79788456080286536f * 0.044715f)));
        if (op == OpCodes.QuickGelu) return x * Sigmoid(1.702f * x);
        if (op == OpCodes.HardSwish) return x * Math.Min(Math.Max(x + 3f, 0f), 6f) / 6f;
        if (op == OpCodes.HardSigmoid) return Math.Min(Math.Max(x + 3f, 0f), 6f) * (1f / 6f);
        if (op == OpCodes.Sin) return MathF.Sin(ReduceAngle(x));
        if (op == OpCodes.Cos) return MathF.Cos(ReduceAngle(x));
        return x * Sigmoid(x); // Silu
    }

    public static float Binary(int op, float a, float b)
    {
        if (op == OpCodes.Add) return a + b;
        if (op == OpCodes.Sub) return a - b;
        if (op == OpCodes.Mul) return a * b;
        if (op == OpCodes.Div) return a / b;
        if (op == OpCodes.Max) return a > b || IsNaN(a) ? a : b;
        return a < b || IsNaN(a) ? a : b; // Min
    }

#pragma warning disable CS1718 // x != x is the NaN test, written out so every backend compiles it
    public static bool IsNaN(float x) => x != x;
#pragma warning restore CS1718

    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>x minus the nearest multiple of 2 pi, computed in double (exact enough for |x| up to 1e9), so the
    /// result lies in [-pi, pi]: ILGPU lowers MathF.Sin/Cos to PTX sin.approx/cos.approx, whose error bound
    /// (2^-20.9 absolute) holds only near that interval, while RoPE tables and timestep embeddings feed angles of
    /// thousands of radians. Infinity and NaN stay NaN.</summary>
    public static float ReduceAngle(float x)
    {
        double d = x, turns = d * 0.15915494309189535, k;
        // The nearest integer: one cvt.rni on the GPU (ILGPU would expand Math.Round/Floor in software).
        if (CudaAsm.IsSupported) CudaAsm.Emit("cvt.rni.f64.f64 %0, %1;", out k, turns);
        else k = Math.Round(turns);
        return (float)(d - k * 6.283185307179586);
    }

    /// <summary>erf(x): N. Juffa's faithfully-rounded minimax form, the one the CPU backend vectorises.</summary>
    public static float Erf(float x)
    {
        float a = Math.Abs(x);
        if (a > 0.927734375f)
        {
            float t = Math.Min(a, 5f);
            float r = -1.72853470e-5f * t + 3.83197126e-4f;
            float u = -3.88396438e-3f * t + 2.42546219e-2f;
            r = r * (t * t) + u;
            r = r * t - 1.06777877e-1f;
            r = r * t - 6.34846687e-1f;
            r = r * t - 1.28717512e-1f;
            r = r * t - t;
            float e = 1f - MathF.Exp(r);
            return x < 0f ? -e : e;
        }
        float s = x * x;
        float p = -5.96761703e-4f;
        p = p * s + 4.99119423e-3f;
        p = p * s - 2.67681349e-2f;
        p = p * s + 1.12819925e-1f;
        p = p * s - 3.76125336e-1f;
        p = p * s + 1.28379166e-1f;
        return p * x + x;
    }
}

/// <summary>The element-wise kernel family.</summary>
public static class ElementwiseKernels
{
    private static long First() => (long)Grid.IdxX * Group.DimX + Group.IdxX;
    private static long Step() => (long)Grid.DimX * Group.DimX;

    [Kernel(BlockX = 256, Reference = "CpuBackend.Fill")]
    public static void FillF32(ArrayView<float> dst, long n, float value)
    {
        for (long i = First(); i < n; i += Step()) dst[i] = value;
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.Fill")]
    public static void FillStrided(ArrayView<byte> dst, StridedLayout dl, long n, double value)
    {
        for (long i = First(); i < n; i += Step()) ElementIO.StoreD(dst, dl.DType, dl.OffsetOf(i), value);
    }

    /// <summary>Same-dtype or converting copy between any two strided views of one shape.</summary>
    [Kernel(BlockX = 256, Reference = "CpuBackend.Copy")]
    public static void CopyStrided(ArrayView<byte> src, StridedLayout sl, ArrayView<byte> dst, StridedLayout dl, long n)
    {
        bool same = sl.DType == dl.DType;
        bool floats = sl.DType <= ElementCodes.BF16 && dl.DType <= ElementCodes.BF16;
        int size = ElementIO.SizeOf(sl.DType);
        for (long i = First(); i < n; i += Step())
        {
            long si = sl.OffsetOf(i), di = dl.OffsetOf(i);
            if (same) ElementIO.CopyRaw(src, si, dst, di, size);
            else if (floats) ElementIO.StoreF(dst, dl.DType, di, ElementIO.LoadF(src, sl.DType, si));
            else ElementIO.StoreD(dst, dl.DType, di, ElementIO.LoadD(src, sl.DType, si));
        }
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.Unary")]
    public static void UnaryF32(ArrayView<float> x, ArrayView<float> dst, long n, int op)
    {
        for (long i = First(); i < n; i += Step()) dst[i] = ElementMath.Unary(op, x[i]);
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.Unary")]
    public static void UnaryStrided(ArrayView<byte> x, StridedLayout xl, ArrayView<byte> dst, StridedLayout dl, long n, int op)
    {
        for (long i = First(); i < n; i += Step())
            ElementIO.StoreF(dst, dl.DType, dl.OffsetOf(i), ElementMath.Unary(op, ElementIO.LoadF(x, xl.DType, xl.OffsetOf(i))));
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.Binary")]
    public static void BinaryF32(ArrayView<float> a, ArrayView<float> b, ArrayView<float> dst, long n, int op)
    {
        for (long i = First(); i < n; i += Step()) dst[i] = ElementMath.Binary(op, a[i], b[i]);
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.Binary")]
    public static void BinaryStrided(ArrayView<byte> a, StridedLayout al, ArrayView<byte> b, StridedLayout bl,
        ArrayView<byte> dst, StridedLayout dl, long n, int op)
    {
        for (long i = First(); i < n; i += Step())
        {
            float va = ElementIO.LoadF(a, al.DType, al.OffsetOf(i)), vb = ElementIO.LoadF(b, bl.DType, bl.OffsetOf(i));
            ElementIO.StoreF(dst, dl.DType, dl.OffsetOf(i), ElementMath.Binary(op, va, vb));
        }
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.Affine")]
    public static void AffineF32(ArrayView<float> x, ArrayView<float> dst, long n, float mul, float add)
    {
        for (long i = First(); i < n; i += Step()) dst[i] = x[i] * mul + add;
    }

    [Kernel(BlockX = 256, Reference = "CpuBackend.Affine")]
    public static void AffineStrided(ArrayView<byte> x, StridedLayout xl, ArrayView<byte> dst, StridedLayout dl, long n, float mul, float add)
    {
        for (long i = First(); i < n; i += Step())
            ElementIO.StoreF(dst, dl.DType, dl.OffsetOf(i), ElementIO.LoadF(x, xl.DType, xl.OffsetOf(i)) * mul + add);
    }
}
