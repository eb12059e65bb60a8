using Tessera.Cpu.Gemm;

namespace Tessera.Cpu;

// Batched matmul over strided views: each batch entry is one Sgemm call reading a and b through their strides
// (transposes and stride-0 broadcasts cost no copy). f16/bf16 operands are converted while packing; an f16/bf16
// result is computed in f32 and converted once.
public sealed unsafe partial class CpuBackend
{
    /// <summary>Below this many multiply-adds a GEMM is too small to split over threads; many such batch entries
    /// (attention heads) are spread over the threads instead, one whole GEMM each.</summary>
    private const long SmallGemm = 1L << 22;

    /// <inheritdoc/>
    public void MatMul(Tensor a, Tensor b, Tensor dst, MatMulEpilogue epilogue)
    {
        int rank = dst.Rank;
        Check(rank >= 2 && a.Rank == rank && b.Rank == rank,
            $"matmul: a {a.Shape}, b {b.Shape} and dst {dst.Shape} must have the same rank (at least 2), batch axes broadcast");
        int m = a.Shape[-2], k = a.Shape[-1], n = b.Shape[-1];
        Check(b.Shape[-2] == k && dst.Shape[-2] == m && dst.Shape[-1] == n,
            $"matmul: a {a.Shape} @ b {b.Shape} does not give dst {dst.Shape}");
        for (int d = 0; d < rank - 2; d++)
            Check(a.Shape[d] == dst.Shape[d] && b.Shape[d] == dst.Shape[d],
                $"matmul: batch axes of a {a.Shape}, b {b.Shape} and dst {dst.Shape} must match (broadcast them first)");
        foreach (var t in (ReadOnlySpan<Tensor>)[a, b, dst])
            Check(t.DType is DType.F32 or DType.F16 or DType.BF16, $"matmul: {t.DType.Name()} {t.Shape} is not f32, f16 or bf16");
        foreach (var (what, t0) in (ReadOnlySpan<(string, Tensor?)>)[("residual", epilogue.Residual), ("multiplier", epilogue.Multiplier)])
            Check(t0 is null || (t0.Shape.Equals(dst.Shape) && t0.DType.IsFloat()),
                $"matmul: {what} {t0?.DType.Name()} {t0?.Shape} must be a float tensor of dst's shape {dst.Shape}");
        if (epilogue.Bias is { } b0)
            Check(b0.Rank == 1 && b0.Shape[0] == n && b0.DType.IsFloat() && !b0.DType.IsBlock(),
                $"matmul: bias {b0.DType.Name()} {b0.Shape} must be a float vector [{n}]");
        if (dst.DType != DType.F32) { ViaF32(dst, t => MatMul(a, b, t, epilogue)); return; }
        Check(dst.IsContiguous, $"matmul: dst {dst.Shape} must be contiguous");
        if (dst.ElementCount == 0) return;

        using var bias = epilogue.Bias is null ? null : AsF32(epilogue.Bias);
        // An f32 residual is read in place through its strides (a broadcast row costs nothing); others convert once.
        using var res = EpilogueF32(epilogue.Residual);
        using var mul = EpilogueF32(epilogue.Multiplier);

        int batchRank = rank - 2;
        long batch = 1;
        for (int d = 0; d < batchRank; d++) batch *= dst.Shape[d];
        var dims = dst.Shape.Dims[..batchRank].ToArray();
        long[] aS = a.Strides[..batchRank].ToArray(), bS = b.Strides[..batchRank].ToArray();
        long[] rS = res is null ? new long[batchRank] : res.Strides[..batchRank].ToArray();
        long[] mS = mul is null ? new long[batchRank] : mul.Strides[..batchRank].ToArray();
        long aRs = a.Strides[^2], aCs = a.Strides[^1], bRs = b.Strides[^2], bCs = b.Strides[^1];
        long resRs = res is null ? 0 : res.Strides[^2], resCs = res is null ? 0 : res.Strides[^1];
        long mulRs = mul is null ? 0 : mul.Strides[^2], mulCs = mul is null ? 0 : mul.Strides[^1];
        // One B for every batch entry (a weight applied to [batch, tokens, K]) and A, residual and multiplier rows that
        // run on across the batch axes: one GEMM of batch * m rows, so B (or its packed panels) is read once, not per entry.
        if (batch > 1 && bS.All(s => s == 0) && RowsRunOn(dims, aS, aRs, m) && (res is null || RowsRunOn(dims, rS, resRs, m))
            && (mul is null || RowsRunOn(dims, mS, mulRs, m)) && batch * m <= int.MaxValue)
        {
            m = (int)(batch * m);
            batch = 1;
            Array.Clear(aS); Array.Clear(rS); Array.Clear(mS);
        }
        byte* aBase = Ptr(a), bBase = Ptr(b);
        float* cBase = Ptr<float>(dst), biasP = bias is null ? null : Ptr<float>(bias), resBase = res is null ? null : Ptr<float>(res),
            mulBase = mul is null ? null : Ptr<float>(mul);
        int aSize = ElementSize(a.DType), bSize = ElementSize(b.DType);
        DType aT = a.DType, bT = b.DType;
        var act = epilogue.Activation;
        // A constant f32 right operand stored [N, K] (a linear layer's weight, memory-mapped) is read in place by the
        // dot-product kernel up to DotGemmMaxRows rows: no packed copy beside the mapping, and row i of the result does
        // not depend on m (batch invariance). From PackedRows rows on (image tokens, long prompts) it is packed once
        // into the micro-kernel's panels, kept with its storage (the mapped pages it was read from are then left
        // alone), and the register-blocked GEMM runs on it. Operands that are not constant are packed per call.
        bool constF32 = b.Storage.IsConstant && bT == DType.F32 && aT == DType.F32;
        bool dot = constF32 && m < PackedRows && DotGemm.Applies(new GemmOperand(aBase, aT, aRs, aCs), new GemmOperand(bBase, bT, bRs, bCs));
        // A constant f32 [K, N] B is packed once for every m (nothing reads it in place, and the cached panels give the
        // per-call packing's arithmetic without its cost); an [N, K] one below PackedRows without the dot kernel (no
        // AVX-512) keeps the per-call path, which reads a decode step's weights in place.
        // A weight whose owner forbids derived copies (a decoder under its memory budget) is packed per call instead.
        bool prepack = constF32 && !dot && (m >= PackedRows || bRs != 1) && b.Storage.AllowsDerivedForms;
        // A constant f16/bf16 weight (a 16-bit checkpoint read in place): DotGemm's tiles on rows widened 4 at a time.
        bool halfDot = b.Storage.IsConstant && HalfDotGemm.Applies(new GemmOperand(aBase, aT, aRs, aCs), new GemmOperand(bBase, bT, bRs, bCs));

        void One(long bi, int threads)
        {
            long ao = 0, bo = 0, ro = 0, mo = 0, rem = bi;
            for (int d = batchRank - 1; d >= 0; d--)
            {
                long idx = rem % dims[d]; rem /= dims[d];
                ao += idx * aS[d]; bo += idx * bS[d]; ro += idx * rS[d]; mo += idx * mS[d];
            }
            var ga = new GemmOperand(aBase + ao * aSize, aT, aRs, aCs);
            var gb = new GemmOperand(bBase + bo * bSize, bT, bRs, bCs);
            var ep = new GemmEpilogue(biasP, act, resBase == null ? null : resBase + ro, resRs, resCs,
                multiplier: mulBase == null ? null : mulBase + mo, multiplierRowStride: mulRs, multiplierColStride: mulCs);
            if (dot) DotGemm.Run(m, n, k, ga, gb, cBase + bi * m * n, n, ep, threads);
            else if (prepack)
            {
                var op = gb;
                var packed = b.Storage.GetOrAddDerived(new PackedKey(b.Offset + bo, bRs, bCs, k, n, bT, MicroKernel.NR), () => new PackedB(k, n, op));
                Sgemm.Multiply(m, n, k, ga, default, packed, cBase + bi * m * n, n, ep, threads);
            }
            else if (halfDot) HalfDotGemm.Run(m, n, k, ga, gb, cBase + bi * m * n, n, ep, threads);
            else Sgemm.Multiply(m, n, k, ga, gb, cBase + bi * m * n, n, ep, threads);
        }

        if (batch > 1 && (long)m * n * k < SmallGemm && Threads > 1)
            CpuParallel.For(batch, Threads, 1, (s, e) => { for (long bi = s; bi < e; bi++) One(bi, 1); });
        else
            for (long bi = 0; bi < batch; bi++) One(bi, Threads);
    }

    /// <summary>Most rows for which a constant f32 [N, K] weight is read in place by <see cref="DotGemm"/>; from
    /// <see cref="PackedRows"/> on it is packed once and the register-blocked GEMM runs on the panels. The dot kernel
    /// keeps decode steps and batches of up to 128 sequences bit for bit as each one alone (the batch-invariance
    /// contract, BatchInvarianceTests); longer inputs (a ViT's 197 tokens, a DiT's 256, a batch of images, a long
    /// prompt) are not decode batches, and there the packed GEMM is ~15% faster (x 768 x 3072 on Zen 4, one thread, thread
    /// CPU time: 81 GFLOP/s at 128 rows on the dot kernel, 94 at 129 on the packed GEMM, ONNX Runtime 100-104). The
    /// packed GEMM is batch invariant too (each output is one FMA chain per K block whatever the tile or thread split),
    /// but not bit-identical to the dot kernel, so the line must stay above the largest decode batch.</summary>
    internal const int DotGemmMaxRows = 128;

    /// <summary>Rows from which a constant f32 weight goes through its packed form.</summary>
    internal const int PackedRows = DotGemmMaxRows + 1;

    // Whether rows of an operand (row stride rowStride, batch strides `strides` over `dims`) continue from one batch
    // entry to the next, so that [batch..., m] rows are one run of batch * m rows.
    private static bool RowsRunOn(int[] dims, long[] strides, long rowStride, int m)
    {
        long expect = m * rowStride;
        for (int d = dims.Length - 1; d >= 0; d--)
        {
            if (dims[d] != 1 && strides[d] != expect) return false;
            expect *= dims[d];
        }
        return true;
    }

    // An epilogue operand of dst's shape as f32: an f32 view is read in place through its strides (a broadcast row
    // costs nothing); other dtypes convert once.
    private static Tensor? EpilogueF32(Tensor? t) => t is null ? null : t.DType == DType.F32 ? t.Share() : AsF32(t);

    /// <summary>The layout a <see cref="PackedB"/> was made from, as the key of the storage's derived forms (LSTM).</summary>
    private readonly record struct PackedKey(long Offset, long RowStride, long ColStride, int K, int N, DType Type, int NR);
}
