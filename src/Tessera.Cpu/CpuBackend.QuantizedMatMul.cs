using Tessera.Cpu.Gemm;
using Tessera.Cpu.Quant;

namespace Tessera.Cpu;

// Quantized linear layers: x [..., K] (f32 or bf16, any strides) times a quantized weight [N, K] stored as GGUF
// blocks or int8 with per-row scales. Activations are quantized on the fly (per row for int8, in 32/256 blocks for
// the GGUF formats, as llama.cpp does) and the products run on integer dot-product instructions (Quant/).
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void QuantizedMatMul(Tensor x, Tensor w, Tensor? scales, Tensor dst, MatMulEpilogue epilogue)
    {
        Check(w.Rank == 2 && w.IsContiguous, $"quantized matmul: weight {w.DType.Name()} {w.Shape} must be a contiguous [N, K]");
        int n = w.Shape[0], k = w.Shape[1];
        Check(x.Rank >= 1 && x.Shape[-1] == k && x.DType is DType.F32 or DType.BF16 or DType.F16,
            $"quantized matmul: x {x.DType.Name()} {x.Shape} must be a float [..., {k}] for weight {w.DType.Name()} {w.Shape}");
        Check(dst.Shape.Equals(x.Shape.With(-1, n)) && dst.DType.IsFloat(),
            $"quantized matmul: dst {dst.DType.Name()} {dst.Shape} must be float {x.Shape.With(-1, n)} for x {x.Shape} and weight {w.Shape}");
        int bs = w.DType.BlockSize();
        Check(w.DType is DType.Q8_0 or DType.Q4_0 or DType.Q4_1 or DType.Q4_K or DType.Q6_K or DType.I8,
            $"quantized matmul: no kernel for a {w.DType.Name()} weight {w.Shape} (q8_0, q4_0, q4_1, q4_k, q6_k or i8 with scales)");
        Check(k % bs == 0, $"quantized matmul: x {x.Shape} @ {w.DType.Name()} weight {w.Shape}: K = {k} is not a multiple of the {bs}-element block");
        if (w.DType == DType.I8)
            Check(scales is not null && scales.Rank == 1 && scales.Shape[0] == n && scales.DType == DType.F32,
                $"quantized matmul: i8 weight {w.Shape} needs f32 per-row scales [{n}], got {(scales is null ? "none" : $"{scales.DType.Name()} {scales.Shape}")}");
        else Check(scales is null, $"quantized matmul: a {w.DType.Name()} weight {w.Shape} carries its own scales; got extra scales {scales?.Shape}");
        foreach (var (what, t0) in (ReadOnlySpan<(string, Tensor?)>)[("residual", epilogue.Residual), ("multiplier", epilogue.Multiplier)])
            Check(t0 is null || (t0.Shape.Equals(dst.Shape) && t0.DType.IsFloat()),
                $"quantized matmul: {what} {t0?.DType.Name()} {t0?.Shape} must be a float tensor of dst's shape {dst.Shape}");
        if (epilogue.Bias is { } b0)
            Check(b0.Rank == 1 && b0.Shape[0] == n && b0.DType.IsFloat(), $"quantized matmul: bias {b0.DType.Name()} {b0.Shape} must be a float vector [{n}]");
        if (dst.DType != DType.F32) { ViaF32(dst, t => QuantizedMatMul(x, w, scales, t, epilogue)); return; }
        Check(dst.IsContiguous, $"quantized matmul: dst {dst.Shape} must be contiguous");
        if (dst.ElementCount == 0) return;

        int m = checked((int)(x.ElementCount / Math.Max(k, 1)));
        if (k == 0) m = checked((int)(dst.ElementCount / n));
        using var xf = AsF32(x);
        using var bias = epilogue.Bias is null ? null : AsF32(epilogue.Bias);
        // A 2-D f32 residual or multiplier is read through its strides (a broadcast row costs nothing); others are
        // made contiguous, so that their rows are the flattened [M, N] rows of dst.
        using var res = RowsF32(epilogue.Residual);
        using var mul = RowsF32(epilogue.Multiplier);
        var ep = new GemmEpilogue(bias is null ? null : Ptr<float>(bias), epilogue.Activation,
            res is null ? null : Ptr<float>(res), RowStride(res, n), ColStride(res),
            multiplier: mul is null ? null : Ptr<float>(mul), multiplierRowStride: RowStride(mul, n), multiplierColStride: ColStride(mul));
        float* xp = Ptr<float>(xf), dp = Ptr<float>(dst);
        if (k == 0)
        {
            Fill(dst, 0);
            if (GemmEpilogueOps.Any(ep)) GemmEpilogueOps.Apply(dp, n, m, n, 0, 0, ep);
            return;
        }
        byte* wp = Ptr(w);
        long rowBytes = w.DType.ByteCount(k);
        switch (w.DType)
        {
            // Q8_0/Q4_0 constant weights: 16-row panels (the choice depends on the weight only, never on M, so every
            // call on one weight has the same arithmetic).
            case DType.Q8_0 or DType.Q4_0 when PanelWeight(w, wp, n, k) is { } panels: Q32PanelRunner.Run(panels, xp, m, dp, ep, Threads); break;
            // Other Q8_0/Q4_0 weights are read in place, AVX-512BW where present.
            case DType.Q8_0 when Q32Kernels512.Supported: QuantRunner.RunQ32<Q8_0Pair>(xp, m, k, wp, rowBytes, n, dp, ep, Threads); break;
            case DType.Q4_0 when Q32Kernels512.Supported: QuantRunner.RunQ32<Q4_0Pair>(xp, m, k, wp, rowBytes, n, dp, ep, Threads); break;
            case DType.Q8_0: QuantRunner.RunBlocks<Q8_0Kernel>(xp, m, k, wp, rowBytes, bs, n, dp, ep, Threads); break;
            case DType.Q4_0: QuantRunner.RunBlocks<Q4_0Kernel>(xp, m, k, wp, rowBytes, bs, n, dp, ep, Threads); break;
            case DType.Q4_1: QuantRunner.RunBlocks<Q4_1Kernel>(xp, m, k, wp, rowBytes, bs, n, dp, ep, Threads); break;
            case DType.Q4_K: QuantRunner.RunBlocks<Q4_KKernel>(xp, m, k, wp, rowBytes, bs, n, dp, ep, Threads); break;
            case DType.Q6_K: QuantRunner.RunBlocks<Q6_KKernel>(xp, m, k, wp, rowBytes, bs, n, dp, ep, Threads); break;
            default:
            {
                using var sc = AsF32(scales!);
                // The VNNI layout is worth making for a GEMM; a constant weight keeps it with its storage.
                Func<PackedI8>? packed = null;
                PackedI8? owned = null;
                if (m >= Int8Kernels.MR)
                {
                    var storage = w.Storage;
                    var key = new PackedI8Key(w.Offset, n, k);
                    packed = storage.IsConstant
                        ? () => storage.GetOrAddDerived(key, () => new PackedI8((sbyte*)wp, n, k))
                        : () => owned = new PackedI8((sbyte*)wp, n, k);
                }
                try { QuantRunner.RunInt8(xp, m, k, (sbyte*)wp, packed, Ptr<float>(sc), n, dp, ep, Threads); }
                finally { owned?.Dispose(); }
                break;
            }
        }
    }

    /// <summary>The 16-row panel form of a constant Q8_0/Q4_0 weight, made on first use and kept with its storage; null
    /// (read in place) without AVX-512BW, for a weight that may change, or where a copy would sit beside the original:
    /// an owner that forbids derived forms (a decoder under a memory budget) gets panels only if the storage can drop
    /// the original pages from memory (a mapped file), which it then does, so the panels replace them.</summary>
    private Q32PanelWeight? PanelWeight(Tensor w, byte* wp, int n, int k)
    {
        var storage = w.Storage;
        if (!Q32PanelKernels.Supported || !storage.IsConstant || !(storage.AllowsDerivedForms || storage.CanReleaseResidency)) return null;
        return storage.GetOrAddDerived(new Q32PanelKey(w.Offset, n, k, w.DType), () =>
        {
            var made = Q32PanelWeight.Repack(w.DType, wp, n, k, Threads);
            if (!storage.AllowsDerivedForms) storage.ReleaseResidency(w.DType.ByteCount(w.Offset), w.DType.ByteCount((long)n * k));
            return made;
        });
    }

    private static Tensor? RowsF32(Tensor? t) => t is null ? null : t.DType == DType.F32 && t.Rank == 2 ? t.Share() : AsF32(t);
    private static long RowStride(Tensor? t, int n) => t is null ? 0 : t.Rank == 2 ? t.Strides[0] : n;
    private static long ColStride(Tensor? t) => t is null ? 0 : t.Rank == 2 ? t.Strides[1] : 1;

    /// <summary>The layout a <see cref="PackedI8"/> was made from, as the key of the storage's derived forms.</summary>
    private readonly record struct PackedI8Key(long Offset, int N, int K);

    /// <summary>The layout a <see cref="Q32PanelWeight"/> was made from.</summary>
    private readonly record struct Q32PanelKey(long Offset, int N, int K, DType Type);
}
