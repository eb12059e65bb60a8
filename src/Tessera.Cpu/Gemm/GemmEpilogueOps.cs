using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu.Gemm;

/// <summary>The GEMM epilogue c = (act(c + bias[j or i]) * scale + shift) * multiplier[i, j] + residual[i, j], applied to a
/// finished tile of C while it is still in L1. The activations are <see cref="VectorMath"/>'s, the same as the stand-alone element-wise ops.</summary>
internal static unsafe class GemmEpilogueOps
{
    /// <summary>True when the epilogue does anything at all.</summary>
    public static bool Any(in GemmEpilogue ep) =>
        ep.Bias != null || ep.Activation != Activation.None || ep.Residual != null || ep.Multiplier != null || ep.Scale != 1f || ep.Shift != 0f;

    /// <summary>Applies the epilogue to C[i0 .. i0+rows, j0 .. j0+cols], where <paramref name="c"/> points at
    /// C[i0, j0]; i0 and j0 index bias and residual.</summary>
    public static void Apply(float* c, long ldc, int rows, int cols, long i0, long j0, in GemmEpilogue ep)
    {
        // One pass of registers over the tile: a 12 x 32 tile is 24 vectors, and the run-by-run calls below (bias,
        // activation, affine, multiplier, residual: up to five calls a row) cost a quarter of a small-K tile's FMAs.
        // A residual or multiplier read with a column step other than 0 or 1 (a transposed view) goes by runs.
        bool unit = (ep.Residual == null || ep.ResidualColStride is 0 or 1) && (ep.Multiplier == null || ep.MultiplierColStride is 0 or 1);
        if (unit && Vector512.IsHardwareAccelerated) { Fused<Vector512<float>, V512>(c, ldc, rows, cols, i0, j0, ep); return; }
        if (unit && Vector256.IsHardwareAccelerated) { Fused<Vector256<float>, V256>(c, ldc, rows, cols, i0, j0, ep); return; }
        ByRuns(c, ldc, rows, cols, i0, j0, ep);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fused<TV, S>(float* c, long ldc, int rows, int cols, long i0, long j0, in GemmEpilogue ep) where TV : struct where S : ISimd<TV>
    {
        int full = cols / S.Count * S.Count;
        bool affine = ep.Scale != 1f || ep.Shift != 0f, perRow = ep.BiasPerRow && ep.Bias != null, perCol = !ep.BiasPerRow && ep.Bias != null;
        TV scale = S.Splat(ep.Scale), shift = S.Splat(ep.Shift);
        var act = ep.Activation;
        bool mulRun = ep.MultiplierColStride == 1, resRun = ep.ResidualColStride == 1;
        for (int r = 0; r < rows; r++)
        {
            float* row = c + r * ldc;
            TV rb = S.Splat(perRow ? ep.Bias[i0 + r] : 0f);
            float* mul = ep.Multiplier == null ? null : ep.Multiplier + (i0 + r) * ep.MultiplierRowStride + j0 * ep.MultiplierColStride;
            float* res = ep.Residual == null ? null : ep.Residual + (i0 + r) * ep.ResidualRowStride + j0 * ep.ResidualColStride;
            TV mb = S.Splat(mul == null || mulRun ? 0f : *mul), resb = S.Splat(res == null || resRun ? 0f : *res);
            for (int j = 0; j < full; j += S.Count)
            {
                TV v = S.Load(row + j);
                if (perRow) v = S.Add(v, rb);
                else if (perCol) v = S.Add(v, S.Load(ep.Bias + j0 + j));
                v = VectorMath.Activate<TV, S>(act, v);
                if (affine) v = S.Fma(v, scale, shift);
                if (mul != null) v = S.Mul(v, mulRun ? S.Load(mul + j) : mb);
                if (res != null) v = S.Add(v, resRun ? S.Load(res + j) : resb);
                S.Store(v, row + j);
            }
            if (full < cols) ByRuns(row + full, ldc, 1, cols - full, i0 + r, j0 + full, ep);
        }
    }

    private static void ByRuns(float* c, long ldc, int rows, int cols, long i0, long j0, in GemmEpilogue ep)
    {
        float* bias = ep.Bias == null ? null : ep.BiasPerRow ? ep.Bias + i0 : ep.Bias + j0;
        long rrs = ep.ResidualRowStride, rcs = ep.ResidualColStride;
        bool affine = ep.Scale != 1f || ep.Shift != 0f;
        for (int r = 0; r < rows; r++)
        {
            float* row = c + r * ldc;
            if (bias != null)
            {
                if (ep.BiasPerRow) VectorMath.Affine(row, row, cols, 1f, bias[r]);
                else VectorMath.Apply(BinaryOp.Add, row, 1, bias, 1, row, cols);
            }
            VectorMath.ApplyActivation(ep.Activation, row, cols);
            if (affine) VectorMath.Affine(row, row, cols, ep.Scale, ep.Shift);
            if (ep.Multiplier != null)
            {
                long mrs = ep.MultiplierRowStride, mcs = ep.MultiplierColStride;
                float* mul = ep.Multiplier + (i0 + r) * mrs + j0 * mcs;
                if (mcs is 0 or 1) VectorMath.Apply(BinaryOp.Mul, row, 1, mul, (int)mcs, row, cols);
                else for (int j = 0; j < cols; j++) row[j] *= mul[j * mcs];
            }
            if (ep.Residual == null) continue;
            float* res = ep.Residual + (i0 + r) * rrs + j0 * rcs;
            if (rcs is 0 or 1) VectorMath.Apply(BinaryOp.Add, row, 1, res, (int)rcs, row, cols);
            else for (int j = 0; j < cols; j++) row[j] += res[j * rcs];
        }
    }
}
