using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Kernels;

/// <summary>Vectorised element-wise math: every function is written once over <see cref="ISimd{TV}"/> and
/// runs as Vector512, Vector256 or scalar. Reusable from other kernels (the GEMM epilogue calls
/// <see cref="ApplyActivation"/> or <see cref="Activate{TV,S}"/> on its accumulators).
/// Accuracy in f32 (measured against a 28-digit reference): erf about 1 ulp, tanh 3.5 ulp; <see cref="Exp{TV,S}"/>
/// (behind Exp, Sigmoid, SiLU, tanh, the sigmoid GELUs, softmax) 1 ulp; erf and the GELU CDF keep .NET's exp, and
/// log is .NET's. Measured by `peer smallops` (f32 ulps against double, inputs in [-80, 80]): exp 1.0, sigmoid 2.3,
/// SiLU 2.7, tanh 3.5 (the same with .NET's exp), hardswish 1.3.
/// Every loop over memory is marked AggressiveOptimization: these kernels run a few times per inference over long
/// runs, and under tiering their first calls (interpreter-grade tier-0 code) cost 5-20x the optimised loop.</summary>
internal static unsafe class VectorMath
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float SqrtTwoOverPi = 0.79788456080286536f;

    /// <summary>erf(x). Two branches (|x| &lt;= 0.9277: x + x * P(x^2); above: 1 - exp(Q(|x|))), both
    /// evaluated and blended; max error about 1 ulp. The minimax coefficients are those published by
    /// N. Juffa ("efficient faithfully-rounded erff", Stack Overflow 35148198), also used by MLX.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Erf<TV, S>(TV x) where TV : struct where S : ISimd<TV>
    {
        TV t = S.Min(S.Abs(x), S.Splat(5f)); // erf(5) is 1 in f32; the clamp keeps the polynomial finite
        TV s = S.Mul(x, x);
        // |x| > 0.9277: erf = 1 - exp(r(t))
        TV r = S.Fma(S.Splat(-1.72853470e-5f), t, S.Splat(3.83197126e-4f));
        TV u = S.Fma(S.Splat(-3.88396438e-3f), t, S.Splat(2.42546219e-2f));
        TV ts = S.Mul(t, t);
        r = S.Fma(r, ts, u);
        r = S.Fma(r, t, S.Splat(-1.06777877e-1f));
        r = S.Fma(r, t, S.Splat(-6.34846687e-1f));
        r = S.Fma(r, t, S.Splat(-1.28717512e-1f));
        r = S.Fma(r, t, S.Neg(t));
        TV big = S.CopySign(S.Sub(S.Splat(1f), S.Exp(r)), x);
        // |x| <= 0.9277: erf = x + x * p(x^2)
        TV p = S.Splat(-5.96761703e-4f);
        p = S.Fma(p, s, S.Splat(4.99119423e-3f));
        p = S.Fma(p, s, S.Splat(-2.67681349e-2f));
        p = S.Fma(p, s, S.Splat(1.12819925e-1f));
        p = S.Fma(p, s, S.Splat(-3.76125336e-1f));
        p = S.Fma(p, s, S.Splat(1.28379166e-1f));
        TV small = S.Fma(p, x, x);
        return S.Select(S.GreaterThan(S.Abs(x), S.Splat(0.927734375f)), big, small);
    }

    /// <summary>e^x: Cody-Waite reduction x = n ln2 + r (|r| &lt;= ln2 / 2, ln2 split in two so r is exact), the
    /// degree-6 polynomial of Cephes' expf for e^r, and a scale by 2^n (vscalefps on AVX-512), about 1 ulp. x is
    /// clamped to [-150, 150] first, beyond which e^x is 0 or infinity in f32 anyway; NaN stays NaN. Several
    /// times cheaper than Vector512.Exp, which evaluates in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TV, S>(TV x) where TV : struct where S : ISimd<TV>
    {
        x = S.Min(S.Max(x, S.Splat(-150f)), S.Splat(150f));
        TV n = S.Round(S.Mul(x, S.Splat(1.44269504088896341f)));
        TV r = S.Fma(n, S.Splat(-0.693359375f), x);
        r = S.Fma(n, S.Splat(2.12194440e-4f), r);
        TV p = S.Splat(1.9875691500e-4f);
        p = S.Fma(p, r, S.Splat(1.3981999507e-3f));
        p = S.Fma(p, r, S.Splat(8.3334519073e-3f));
        p = S.Fma(p, r, S.Splat(4.1665795894e-2f));
        p = S.Fma(p, r, S.Splat(1.6666665459e-1f));
        p = S.Fma(p, r, S.Splat(5.0000001201e-1f));
        p = S.Add(S.Fma(p, S.Mul(r, r), r), S.Splat(1f));
        return S.ScaleB(p, n);
    }

    /// <summary>tanh(x): a rational minimax form (as in Eigen's fast tanh) for |x| &lt; 0.625, where
    /// 1 - 2 / (e^2|x| + 1) would cancel, and the exponential form above; at most 3.5 ulp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh<TV, S>(TV x) where TV : struct where S : ISimd<TV>
    {
        TV a = S.Abs(x);
        TV x2 = S.Mul(x, x);
        TV p = S.Splat(-2.76076847742355e-16f);
        p = S.Fma(p, x2, S.Splat(2.00018790482477e-13f));
        p = S.Fma(p, x2, S.Splat(-8.60467152213735e-11f));
        p = S.Fma(p, x2, S.Splat(5.12229709037114e-08f));
        p = S.Fma(p, x2, S.Splat(1.48572235717979e-05f));
        p = S.Fma(p, x2, S.Splat(6.37261928875436e-04f));
        p = S.Fma(p, x2, S.Splat(4.89352455891786e-03f));
        TV q = S.Splat(1.19825839466702e-06f);
        q = S.Fma(q, x2, S.Splat(1.18534705686654e-04f));
        q = S.Fma(q, x2, S.Splat(2.26843463243900e-03f));
        q = S.Fma(q, x2, S.Splat(4.89352518554385e-03f));
        TV small = S.Div(S.Mul(x, p), q);
        TV e = Exp<TV, S>(S.Add(a, a));
        TV big = S.CopySign(S.Sub(S.Splat(1f), S.Div(S.Splat(2f), S.Add(e, S.Splat(1f)))), x);
        return S.Select(S.GreaterThan(S.Splat(0.625f), a), small, big);
    }

    /// <summary>1 / (1 + e^-x); saturates cleanly to 0 and 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid<TV, S>(TV x) where TV : struct where S : ISimd<TV> =>
        S.Div(S.Splat(1f), S.Add(S.Splat(1f), Exp<TV, S>(S.Neg(x))));

    /// <summary>Exact GELU, x * Phi(x), with Phi(x) = 0.5 erfc(-x / sqrt 2) evaluated so that it keeps ~1e-7
    /// relative accuracy deep in the negative tail, where 0.5 (1 + erf) would cancel to 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gelu<TV, S>(TV x) where TV : struct where S : ISimd<TV> => S.Mul(x, NormalCdf<TV, S>(x));

    /// <summary>Phi(v), the standard normal CDF: erfc(z), z = |v| / sqrt 2, by the Chebyshev-fitted form of Numerical
    /// Recipes (erfcc, fractional error below 1.2e-7 everywhere). exp(-z^2 + p) is taken as exp(-zz) * exp(p - err)
    /// with zz + err = v^2 / 2 exactly (an FMA split), since rounding -z^2 + p to f32 would cost ulp(z^2) of relative
    /// accuracy (1e-5 at z = 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV NormalCdf<TV, S>(TV v) where TV : struct where S : ISimd<TV>
    {
        TV one = S.Splat(1f), half = S.Splat(0.5f);
        TV z = S.Mul(S.Abs(v), S.Splat(InvSqrt2));
        TV t = S.Div(one, S.Fma(half, z, one));
        TV p = S.Splat(0.17087277f);
        p = S.Fma(p, t, S.Splat(-0.82215223f));
        p = S.Fma(p, t, S.Splat(1.48851587f));
        p = S.Fma(p, t, S.Splat(-1.13520398f));
        p = S.Fma(p, t, S.Splat(0.27886807f));
        p = S.Fma(p, t, S.Splat(-0.18628806f));
        p = S.Fma(p, t, S.Splat(0.09678418f));
        p = S.Fma(p, t, S.Splat(0.37409196f));
        p = S.Fma(p, t, S.Splat(1.00002368f));
        p = S.Fma(p, t, S.Splat(-1.26551223f));
        TV vv = S.Mul(v, v);
        TV zz = S.Mul(vv, half);
        TV err = S.Mul(S.Fma(v, v, S.Neg(vv)), half);
        TV halfErfc = S.Mul(S.Mul(S.Mul(half, t), S.Exp(S.Neg(zz))), S.Exp(S.Sub(p, err)));
        return S.Select(S.GreaterThan(S.Splat(0f), v), halfErfc, S.Sub(one, halfErfc));
    }

    /// <summary>0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated as x * sigmoid(2u), which
    /// is the same function without the cancellation of 1 + tanh(u) for negative x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV GeluTanh<TV, S>(TV x) where TV : struct where S : ISimd<TV>
    {
        TV x2 = S.Mul(x, x);
        TV u2 = S.Mul(x, S.Fma(x2, S.Splat(2f * SqrtTwoOverPi * 0.044715f), S.Splat(2f * SqrtTwoOverPi)));
        return S.Mul(x, Sigmoid<TV, S>(u2));
    }

    /// <summary>x * sigmoid(1.702 x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV QuickGelu<TV, S>(TV x) where TV : struct where S : ISimd<TV> =>
        S.Mul(x, Sigmoid<TV, S>(S.Mul(x, S.Splat(1.702f))));

    /// <summary>x * sigmoid(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Silu<TV, S>(TV x) where TV : struct where S : ISimd<TV> => S.Mul(x, Sigmoid<TV, S>(x));

    /// <summary>max(x, 0); NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Relu<TV, S>(TV x) where TV : struct where S : ISimd<TV> => S.Max(x, S.Splat(0f));

    /// <summary>min(max(x + 3, 0), 6) / 6; NaN stays NaN (vector Min/Max propagate NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV HardSigmoid<TV, S>(TV x) where TV : struct where S : ISimd<TV> =>
        S.Mul(S.Min(S.Max(S.Add(x, S.Splat(3f)), S.Splat(0f)), S.Splat(6f)), S.Splat(1f / 6f));

    /// <summary>x * min(max(x + 3, 0), 6) / 6, as (x * relu6(x + 3)) * (1/6): a multiply instead of the division
    /// (within 1 ulp of it; ONNX Runtime's MLAS multiplies by 1/6 as well), so the op runs at memory speed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV HardSwish<TV, S>(TV x) where TV : struct where S : ISimd<TV> =>
        S.Mul(S.Mul(x, S.Min(S.Max(S.Add(x, S.Splat(3f)), S.Splat(0f)), S.Splat(6f))), S.Splat(1f / 6f));

    /// <summary>One activation on one register (the switch is on a value that is constant for a whole GEMM,
    /// so the branch predicts perfectly).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Activate<TV, S>(Activation act, TV x) where TV : struct where S : ISimd<TV> => act switch
    {
        Activation.None => x,
        Activation.Gelu => Gelu<TV, S>(x),
        Activation.GeluTanh => GeluTanh<TV, S>(x),
        Activation.QuickGelu => QuickGelu<TV, S>(x),
        Activation.Silu => Silu<TV, S>(x),
        Activation.Relu => Relu<TV, S>(x),
        Activation.HardSwish => HardSwish<TV, S>(x),
        _ => throw new TesseraException($"unknown activation {act}"),
    };

    /// <summary>Applies an activation in place to p[0..n) (a contiguous f32 run).</summary>
    public static void ApplyActivation(Activation act, float* p, int n)
    {
        switch (act)
        {
            case Activation.None: return;
            case Activation.Gelu: Apply(UnaryOp.Gelu, p, p, n); return;
            case Activation.GeluTanh: Apply(UnaryOp.GeluTanh, p, p, n); return;
            case Activation.QuickGelu: Apply(UnaryOp.QuickGelu, p, p, n); return;
            case Activation.Silu: Apply(UnaryOp.Silu, p, p, n); return;
            case Activation.Relu: Apply(UnaryOp.Relu, p, p, n); return;
            case Activation.HardSwish: Apply(UnaryOp.HardSwish, p, p, n); return;
            default: throw new TesseraException($"unknown activation {act}");
        }
    }

    /// <summary>dst[i] = op(src[i]) for i in [0, n); src and dst may be the same run.</summary>
    public static void Apply(UnaryOp op, float* src, float* dst, int n)
    {
        switch (op)
        {
            case UnaryOp.Neg: Map<NegFn>(src, dst, n); break;
            case UnaryOp.Abs: Map<AbsFn>(src, dst, n); break;
            case UnaryOp.Exp: Map<ExpFn>(src, dst, n); break;
            case UnaryOp.Log: Map<LogFn>(src, dst, n); break;
            case UnaryOp.Sqrt: Map<SqrtFn>(src, dst, n); break;
            case UnaryOp.Rsqrt: Map<RsqrtFn>(src, dst, n); break;
            case UnaryOp.Square: Map<SquareFn>(src, dst, n); break;
            case UnaryOp.Tanh: Map<TanhFn>(src, dst, n); break;
            case UnaryOp.Sigmoid: Map<SigmoidFn>(src, dst, n); break;
            case UnaryOp.Relu: Map<ReluFn>(src, dst, n); break;
            case UnaryOp.Gelu: MapTiered<GeluFn>(src, dst, n); break;
            case UnaryOp.GeluTanh: Map<GeluTanhFn>(src, dst, n); break;
            case UnaryOp.QuickGelu: Map<QuickGeluFn>(src, dst, n); break;
            case UnaryOp.Silu: Map<SiluFn>(src, dst, n); break;
            case UnaryOp.HardSwish: Map<HardSwishFn>(src, dst, n); break;
            case UnaryOp.HardSigmoid: Map<HardSigmoidFn>(src, dst, n); break;
            // TensorPrimitives' vectorised sin/cos reduce the argument properly (falling back to the scalar
            // routine for huge |x|); UnaryTrigTests measures them at f32 ulp level against double.
            case UnaryOp.Sin: TensorPrimitives.Sin(new ReadOnlySpan<float>(src, n), new Span<float>(dst, n)); break;
            case UnaryOp.Cos: TensorPrimitives.Cos(new ReadOnlySpan<float>(src, n), new Span<float>(dst, n)); break;
            default: throw new TesseraException($"unknown unary op {op}");
        }
    }

    /// <summary>op(x) of one value, by the same formula as the vector loops.</summary>
    public static float Apply(UnaryOp op, float x)
    {
        float r;
        Apply(op, &x, &r, 1);
        return r;
    }

    /// <summary>dst[i] = a[i*sa] op b[i*sb] with sa, sb in {0, 1} (0: the one value broadcast over the run).</summary>
    public static void Apply(BinaryOp op, float* a, int sa, float* b, int sb, float* dst, int n)
    {
        switch (op)
        {
            case BinaryOp.Add: Zip<AddFn>(a, sa, b, sb, dst, n); break;
            case BinaryOp.Sub: Zip<SubFn>(a, sa, b, sb, dst, n); break;
            case BinaryOp.Mul: Zip<MulFn>(a, sa, b, sb, dst, n); break;
            case BinaryOp.Div: Zip<DivFn>(a, sa, b, sb, dst, n); break;
            case BinaryOp.Max: Zip<MaxFn>(a, sa, b, sb, dst, n); break;
            case BinaryOp.Min: Zip<MinFn>(a, sa, b, sb, dst, n); break;
            default: throw new TesseraException($"unknown binary op {op}");
        }
    }

    /// <summary>dst[i] = src[i] * mul + add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Affine(float* src, float* dst, int n, float mul, float add)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(mul); var c = Vector512.Create(add);
            for (; i <= n - 16; i += 16) Vector512.FusedMultiplyAdd(Vector512.Load(src + i), m, c).Store(dst + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(mul); var c = Vector256.Create(add);
            for (; i <= n - 8; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(src + i), m, c).Store(dst + i);
        }
        for (; i < n; i++) dst[i] = MathF.FusedMultiplyAdd(src[i], mul, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Map<F>(float* s, float* d, int n) where F : struct, IUnaryFn
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16) V512.Store(F.Apply<Vector512<float>, V512>(V512.Load(s + i)), d + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8) V256.Store(F.Apply<Vector256<float>, V256>(V256.Load(s + i)), d + i);
        for (; i < n; i++) d[i] = F.Apply<float, V1>(s[i]);
    }

    // Map without AggressiveOptimization, for GELU: its erfc form calls .NET's Vector512.Exp (kept for accuracy),
    // which an AggressiveOptimization caller runs about 20% slower in steady state than tiered, PGO-compiled code.
    private static void MapTiered<F>(float* s, float* d, int n) where F : struct, IUnaryFn
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16) V512.Store(F.Apply<Vector512<float>, V512>(V512.Load(s + i)), d + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8) V256.Store(F.Apply<Vector256<float>, V256>(V256.Load(s + i)), d + i);
        for (; i < n; i++) d[i] = F.Apply<float, V1>(s[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Zip<F>(float* a, int sa, float* b, int sb, float* d, int n) where F : struct, IBinaryFn
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a0 = Vector512.Create(*a), b0 = Vector512.Create(*b);
            for (; i <= n - 16; i += 16)
                V512.Store(F.Apply<Vector512<float>, V512>(sa == 0 ? a0 : V512.Load(a + i), sb == 0 ? b0 : V512.Load(b + i)), d + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a0 = Vector256.Create(*a), b0 = Vector256.Create(*b);
            for (; i <= n - 8; i += 8)
                V256.Store(F.Apply<Vector256<float>, V256>(sa == 0 ? a0 : V256.Load(a + i), sb == 0 ? b0 : V256.Load(b + i)), d + i);
        }
        for (; i < n; i++) d[i] = F.Apply<float, V1>(a[i * sa], b[i * sb]);
    }

    private interface IUnaryFn { static abstract TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV>; }
    private interface IBinaryFn { static abstract TV Apply<TV, S>(TV a, TV b) where TV : struct where S : ISimd<TV>; }

    private struct NegFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => S.Neg(x); }
    private struct AbsFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => S.Abs(x); }
    private struct ExpFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => Exp<TV, S>(x); }
    private struct LogFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => S.Log(x); }
    private struct SqrtFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => S.Sqrt(x); }
    private struct RsqrtFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => S.Div(S.Splat(1f), S.Sqrt(x)); }
    private struct SquareFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => S.Mul(x, x); }
    private struct TanhFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => Tanh<TV, S>(x); }
    private struct SigmoidFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => Sigmoid<TV, S>(x); }
    private struct ReluFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => Relu<TV, S>(x); }
    private struct GeluFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => Gelu<TV, S>(x); }
    private struct GeluTanhFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => GeluTanh<TV, S>(x); }
    private struct QuickGeluFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => QuickGelu<TV, S>(x); }
    private struct SiluFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => Silu<TV, S>(x); }

    private struct HardSwishFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => HardSwish<TV, S>(x); }
    private struct HardSigmoidFn : IUnaryFn { public static TV Apply<TV, S>(TV x) where TV : struct where S : ISimd<TV> => HardSigmoid<TV, S>(x); }

    private struct AddFn : IBinaryFn { public static TV Apply<TV, S>(TV a, TV b) where TV : struct where S : ISimd<TV> => S.Add(a, b); }
    private struct SubFn : IBinaryFn { public static TV Apply<TV, S>(TV a, TV b) where TV : struct where S : ISimd<TV> => S.Sub(a, b); }
    private struct MulFn : IBinaryFn { public static TV Apply<TV, S>(TV a, TV b) where TV : struct where S : ISimd<TV> => S.Mul(a, b); }
    private struct DivFn : IBinaryFn { public static TV Apply<TV, S>(TV a, TV b) where TV : struct where S : ISimd<TV> => S.Div(a, b); }
    private struct MaxFn : IBinaryFn { public static TV Apply<TV, S>(TV a, TV b) where TV : struct where S : ISimd<TV> => S.Max(a, b); }
    private struct MinFn : IBinaryFn { public static TV Apply<TV, S>(TV a, TV b) where TV : struct where S : ISimd<TV> => S.Min(a, b); }
}
