using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Gemm;

/// <summary>The GEMM epilogue c = act(c + bias[j]) + residual[i, j], applied to a finished tile of C while it is
/// still in L1, and the vectorised activations it needs (exact-erf GELU included).</summary>
internal static unsafe class GemmEpilogueOps
{
    /// <summary>True when the epilogue does anything at all.</summary>
    public static bool Any(in GemmEpilogue ep) => ep.Bias != null || ep.Activation != Activation.None || ep.Residual != null;

    /// <summary>Applies the epilogue to C[i0 .. i0+rows, j0 .. j0+cols], where <paramref name="c"/> points at
    /// C[i0, j0]; i0 and j0 index bias and residual.</summary>
    public static void Apply(float* c, long ldc, int rows, int cols, long i0, long j0, in GemmEpilogue ep)
    {
        float* bias = ep.Bias == null ? null : ep.Bias + j0;
        long rrs = ep.ResidualRowStride, rcs = ep.ResidualColStride;
        float* tmpX = stackalloc float[16];
        float* tmpB = stackalloc float[16];
        float* tmpR = stackalloc float[16];
        for (int r = 0; r < rows; r++)
        {
            float* row = c + r * ldc;
            float* res = ep.Residual == null ? null : ep.Residual + (i0 + r) * rrs + j0 * rcs;
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                if (rcs == 1 || res == null)
                    for (; j + 16 <= cols; j += 16)
                        Chunk(row + j, bias == null ? null : bias + j, res == null ? null : res + j, ep.Activation);
                // Tails and strided residuals go through a 16-float staging buffer, so one vector code path serves all.
                for (; j < cols; j += 16)
                {
                    int w = Math.Min(16, cols - j);
                    for (int t = 0; t < w; t++)
                    {
                        tmpX[t] = row[j + t];
                        if (bias != null) tmpB[t] = bias[j + t];
                        if (res != null) tmpR[t] = res[(j + t) * rcs];
                    }
                    Chunk(tmpX, bias == null ? null : tmpB, res == null ? null : tmpR, ep.Activation);
                    for (int t = 0; t < w; t++) row[j + t] = tmpX[t];
                }
            }
            else
            {
                for (; j < cols; j++)
                {
                    float v = row[j];
                    if (bias != null) v += bias[j];
                    v = Scalar(v, ep.Activation);
                    if (res != null) v += res[j * rcs];
                    row[j] = v;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Chunk(float* x, float* bias, float* res, Activation act)
    {
        var v = Vector512.Load(x);
        if (bias != null) v += Vector512.Load(bias);
        if (act != Activation.None) v = Activate(v, act);
        if (res != null) v += Vector512.Load(res);
        v.Store(x);
    }

    /// <summary>One activation over 16 lanes.</summary>
    public static Vector512<float> Activate(Vector512<float> v, Activation act) => act switch
    {
        Activation.None => v,
        Activation.Relu => Vector512.Max(v, Vector512<float>.Zero),
        Activation.Silu => v / (Vector512<float>.One + Vector512.Exp(-v)),
        Activation.QuickGelu => v / (Vector512<float>.One + Vector512.Exp(v * Vector512.Create(-1.702f))),
        Activation.GeluTanh => GeluTanh(v),
        Activation.Gelu => v * NormalCdf(v),
        _ => throw new TesseraException($"gemm epilogue: unknown activation {act}"),
    };

    private static Vector512<float> GeluTanh(Vector512<float> v)
    {
        // 0.5 v (1 + tanh(y)) = v sigmoid(2y) = v / (1 + exp(-2y)): no cancellation in either tail.
        var y = Vector512.Create(-1.5957691216057308f) * (v + Vector512.Create(0.044715f) * v * v * v);
        return v / (Vector512<float>.One + Vector512.Exp(y));
    }

    /// <summary>Phi(v) = 0.5 erfc(-v / sqrt 2). erfc(z) for z >= 0 by the Chebyshev-fitted form of Numerical Recipes
    /// (erfcc: fractional error below 1.2e-7 everywhere), so Phi has ~1e-7 relative accuracy even deep in the
    /// negative tail, where 1 + erf(x) would cancel.</summary>
    public static Vector512<float> NormalCdf(Vector512<float> v)
    {
        var z = Vector512.Abs(v) * Vector512.Create(0.70710678118654752f);
        var t = Vector512<float>.One / (Vector512<float>.One + Vector512.Create(0.5f) * z);
        var p = Vector512.Create(0.17087277f);
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(-0.82215223f));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(1.48851587f));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(-1.13520398f));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(0.27886807f));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(-0.18628806f));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(0.09678418f));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(0.37409196f));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(1.00002368f));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(-1.26551223f));
        // exp(-z^2 + p) as exp(-zz) * exp(p - err), with zz + err = z^2 exactly: in one exp, rounding -z^2 + p to
        // float would cost ulp(z^2) of relative accuracy (1e-5 at z = 8).
        // z^2 is formed from v (v^2 / 2), since z = v / sqrt 2 rounded to float would already be 6e-8 off.
        var vv = v * v;
        var zz = vv * Vector512.Create(0.5f);
        var err = Vector512.FusedMultiplyAdd(v, v, -vv) * Vector512.Create(0.5f);
        var halfErfc = Vector512.Create(0.5f) * t * Vector512.Exp(-zz) * Vector512.Exp(p - err);
        return Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), halfErfc, Vector512<float>.One - halfErfc);
    }

    /// <summary>Scalar twin of <see cref="Activate"/> for machines without Vector512.</summary>
    public static float Scalar(float v, Activation act)
    {
        switch (act)
        {
            case Activation.None: return v;
            case Activation.Relu: return MathF.Max(v, 0);
            case Activation.Silu: return v / (1 + MathF.Exp(-v));
            case Activation.QuickGelu: return v / (1 + MathF.Exp(-1.702f * v));
            case Activation.GeluTanh:
                return v / (1 + MathF.Exp(-1.5957691216057308f * (v + 0.044715f * v * v * v)));
            case Activation.Gelu:
                float z = MathF.Abs(v) * 0.70710678118654752f;
                float t = 1 / (1 + 0.5f * z);
                float p = t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f
                    + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
                float vv = v * v;
                float h = 0.5f * t * MathF.Exp(-0.5f * vv) * MathF.Exp(p - 1.26551223f - 0.5f * MathF.FusedMultiplyAdd(v, v, -vv));
                return v * (v < 0 ? h : 1 - h);
            default: throw new TesseraException($"gemm epilogue: unknown activation {act}");
        }
    }
}
