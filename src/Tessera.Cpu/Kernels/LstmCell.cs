using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Kernels;

/// <summary>The fused element-wise part of one LSTM step for a run of hidden units of one batch row: gate
/// pre-activations g = rec + inp (rec = h R^T from this step's recurrent product, inp = x_t W^T + Wb + Rb from the
/// projection done for all steps), ONNX gate order i, o, f, c, optional peepholes p (i, o, f), then
/// i = sig(g_i + P_i c), f = sig(g_f + P_f c) or 1 - i, c' = f c + i tanh(g_c), o = sig(g_o + P_o c'),
/// h' = o tanh(c'), each pre-activation clamped to [-clip, clip] when clip &gt; 0. c is updated in place, h' written
/// to hOut and y. One pass, no temporaries; written once over <see cref="ISimd{TV}"/>.</summary>
internal static unsafe class LstmCell
{
    /// <summary>Units [0, count) of a row: gate g of unit j at rec[g * recGate + j], inp[g * n + j], p[g * n + j]
    /// (p null: no peepholes); c, hOut and y at [j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Update(float* rec, int recGate, float* inp, int n, float* hOut, float* c, float* p, float* y, int count,
        float clip, bool inputForget)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j <= count - 16; j += 16) Lanes<Vector512<float>, V512>(rec, recGate, inp, n, hOut, c, p, y, j, clip, inputForget);
        else if (Vector256.IsHardwareAccelerated)
            for (; j <= count - 8; j += 8) Lanes<Vector256<float>, V256>(rec, recGate, inp, n, hOut, c, p, y, j, clip, inputForget);
        for (; j < count; j++) Lanes<float, V1>(rec, recGate, inp, n, hOut, c, p, y, j, clip, inputForget);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Lanes<TV, S>(float* rec, int recGate, float* inp, int n, float* hOut, float* c, float* p, float* y, int j,
        float clip, bool inputForget) where TV : struct where S : ISimd<TV>
    {
        TV cPrev = S.Load(c + j);
        TV gi = S.Add(S.Load(rec + j), S.Load(inp + j));
        TV go = S.Add(S.Load(rec + recGate + j), S.Load(inp + n + j));
        TV gf = S.Add(S.Load(rec + 2 * recGate + j), S.Load(inp + 2 * n + j));
        TV gc = S.Add(S.Load(rec + 3 * recGate + j), S.Load(inp + 3 * n + j));
        if (p != null)
        {
            gi = S.Fma(S.Load(p + j), cPrev, gi);
            gf = S.Fma(S.Load(p + 2 * n + j), cPrev, gf);
        }
        TV i = VectorMath.Sigmoid<TV, S>(Clip<TV, S>(gi, clip));
        TV f = inputForget ? S.Sub(S.Splat(1f), i) : VectorMath.Sigmoid<TV, S>(Clip<TV, S>(gf, clip));
        TV cNew = S.Fma(f, cPrev, S.Mul(i, VectorMath.Tanh<TV, S>(Clip<TV, S>(gc, clip))));
        if (p != null) go = S.Fma(S.Load(p + n + j), cNew, go);
        TV hNew = S.Mul(VectorMath.Sigmoid<TV, S>(Clip<TV, S>(go, clip)), VectorMath.Tanh<TV, S>(cNew));
        S.Store(cNew, c + j);
        S.Store(hNew, hOut + j);
        S.Store(hNew, y + j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Clip<TV, S>(TV x, float clip) where TV : struct where S : ISimd<TV> =>
        clip > 0 ? S.Min(S.Max(x, S.Splat(-clip)), S.Splat(clip)) : x;
}
