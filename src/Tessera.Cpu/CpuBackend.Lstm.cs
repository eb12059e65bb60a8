using System.Runtime.InteropServices;
using Tessera.Cpu.Gemm;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// ONNX LSTM. The input projection of every step and every direction is one SGEMM, x [S*B, I] @ W^T [I, D*4H] with
// the summed biases Wb + Rb in its epilogue; then each direction walks its steps: the recurrent GEMM h [B, H] @ R^T
// on R packed once (kept with a constant weight, so once per model) and the fused gate kernel (LstmCell) per batch row, which
// reads the row's projection at its own time step. That per-row step is what makes a reverse direction with
// sequence_lens right: row b starts at its own last valid step, seqLens[b] - 1. Two directions run on two threads
// when the backend has them (they are independent).
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Lstm(Tensor x, Tensor w, Tensor r, Tensor? b, Tensor? seqLens, Tensor? initialH, Tensor? initialC, Tensor? p,
        LstmOptions options, Tensor y, Tensor yH, Tensor yC)
    {
        int s = x.Shape[0], batch = x.Shape[1], input = x.Shape[2], dirs = options.Directions, h = r.Shape[-1], g4 = 4 * h;
        Check(x.Rank == 3 && w.Shape.Equals(new Shape(dirs, g4, input)) && r.Shape.Equals(new Shape(dirs, g4, h))
              && (b is null || b.Shape.Equals(new Shape(dirs, 2 * g4))) && (p is null || p.Shape.Equals(new Shape(dirs, 3 * h)))
              && y.Shape.Equals(new Shape(s, dirs, batch, h)) && yH.Shape.Equals(new Shape(dirs, batch, h)) && yC.Shape.Equals(yH.Shape)
              && (initialH is null || initialH.Shape.Equals(yH.Shape)) && (initialC is null || initialC.Shape.Equals(yH.Shape))
              && (seqLens is null || (seqLens.DType == DType.I32 && seqLens.Shape.Equals(new Shape(batch)))),
            $"lstm: x {x.Shape}, w {w.Shape}, r {r.Shape}, b {b?.Shape}, p {p?.Shape}, initial states {initialH?.Shape}/{initialC?.Shape}, " +
            $"seqLens {seqLens?.Shape} and outputs {y.Shape}, {yH.Shape}, {yC.Shape} do not fit a {options.Direction} LSTM");
        int[]? lens = seqLens?.ToArray<int>();
        using var xc = AsF32(x);
        using var wc = AsF32(w);
        using var rc = AsF32(r);
        using var pc = p is null ? null : AsF32(p);
        using var yF = y.DType == DType.F32 && y.IsContiguous ? y.Share() : Tensor.Zeros(this, DType.F32, y.Shape);
        using var hF = yH.DType == DType.F32 && yH.IsContiguous ? yH.Share() : Tensor.Zeros(this, DType.F32, yH.Shape);
        using var cF = yC.DType == DType.F32 && yC.IsContiguous ? yC.Share() : Tensor.Zeros(this, DType.F32, yC.Shape);
        Span<float>(yF).Clear(); // steps past a row's length stay 0
        if (initialH is null) Span<float>(hF).Clear(); else Copy(initialH, hF);
        if (initialC is null) Span<float>(cF).Clear(); else Copy(initialC, cF);

        long rows = (long)s * batch, width = (long)dirs * g4;
        var bias = new float[width];
        if (b is not null)
        {
            using var bc = AsF32(b);
            float* bp = Ptr<float>(bc);
            for (int d = 0; d < dirs; d++)
                for (int j = 0; j < g4; j++) bias[d * g4 + j] = bp[d * 2 * g4 + j] + bp[d * 2 * g4 + g4 + j];
        }
        float* proj = (float*)NativeMemory.AlignedAlloc((nuint)(rows * width * sizeof(float)), 64);
        try
        {
            var wT = new GemmOperand(Ptr<float>(wc), DType.F32, 1, input);
            using (var wPacked = rows >= 4 ? PackTransposed(w, wc, 0, input, (int)width) : null)
            fixed (float* biasP = bias)
                Sgemm.Multiply(checked((int)rows), checked((int)width), input, new GemmOperand(Ptr<float>(xc), DType.F32, input, 1),
                    wT, wPacked?.Packed, proj, width, new GemmEpilogue(biasP, Activation.None, null, 0, 0), Threads);
            var rPacked = new PackedR[dirs];
            for (int d = 0; d < dirs; d++) rPacked[d] = PackRecurrent(r, rc, (long)d * g4 * h, h);
            var run = new LstmRun(s, batch, h, dirs, lens, proj, rPacked, pc is null ? null : Ptr<float>(pc),
                Ptr<float>(yF), Ptr<float>(hF), Ptr<float>(cF), options.Clip ?? 0f, options.InputForget);
            try
            {
                // Two directions are independent: one a thread, each R staying in its own core's cache.
                int dirThreads = dirs == 2 && Threads >= 2 ? 2 : 1;
                CpuParallel.For(dirs, dirThreads, 1, (d0, d1) =>
                {
                    for (long d = d0; d < d1; d++) run.Direction((int)d, options.IsReverse((int)d));
                });
            }
            finally { foreach (var rp in rPacked) rp?.Dispose(); }
        }
        finally { NativeMemory.AlignedFree(proj); }
        if (!ReferenceEquals(yF.Storage, y.Storage)) Copy(yF, y);
        if (!ReferenceEquals(hF.Storage, yH.Storage)) Copy(hF, yH);
        if (!ReferenceEquals(cF.Storage, yC.Storage)) Copy(cF, yC);
    }

    /// <summary>A packed B that is either kept with a constant weight's storage or owned by this call.</summary>
    private sealed class PackedUse(PackedB packed, bool owned) : IDisposable
    {
        public PackedB Packed => packed;

        public void Dispose()
        {
            if (owned) packed.Dispose();
        }
    }

    // B = M^T for the [n, k] block of a weight at element offset `offset` (row-major, f32 copy `f32`): element (kk, nn)
    // is M[nn, kk]. A constant f32 weight keeps its packed form with its storage, so a model packs W and R once.
    private static PackedUse PackTransposed(Tensor original, Tensor f32, long offset, int k, int n)
    {
        var op = new GemmOperand(Ptr<float>(f32) + offset, DType.F32, 1, k);
        if (original.Storage.IsConstant && ReferenceEquals(original.Storage, f32.Storage))
        {
            var key = new PackedKey(original.Offset + offset, 1, k, k, n, DType.F32, MicroKernel.NR);
            return new PackedUse(original.Storage.GetOrAddDerived(key, () => new PackedB(k, n, op)), owned: false);
        }
        return new PackedUse(new PackedB(k, n, op), owned: true);
    }

    /// <summary>R packed for the fused step (<see cref="LstmPackedR"/>), kept with a constant weight's storage or
    /// owned by this call.</summary>
    private sealed class PackedR(LstmPackedR packed, bool owned) : IDisposable
    {
        public LstmPackedR Packed => packed;

        public void Dispose()
        {
            if (owned) packed.Dispose();
        }
    }

    private readonly record struct LstmRKey(long Offset, int Hidden, int Lanes);

    private static PackedR PackRecurrent(Tensor original, Tensor f32, long offset, int h)
    {
        float* src = Ptr<float>(f32) + offset;
        if (original.Storage.IsConstant && ReferenceEquals(original.Storage, f32.Storage))
        {
            var key = new LstmRKey(original.Offset + offset, h, LstmRecurrent.Lanes);
            return new PackedR(original.Storage.GetOrAddDerived(key, () => new LstmPackedR(src, h)), owned: false);
        }
        return new PackedR(new LstmPackedR(src, h), owned: true);
    }

    // One call's buffers: proj [S*B, D*4H], R packed per direction, p [D, 3H] or null, y [S, D, B, H], h and c [D, B, H].
    private sealed class LstmRun(int s, int batch, int h, int dirs, int[]? lens, float* proj, PackedR[] rPacked, float* p,
        float* y, float* hs, float* cs, float clip, bool inputForget)
    {
        public void Direction(int d, bool reverse)
        {
            int g4 = 4 * h;
            float* hD = hs + (long)d * batch * h, cD = cs + (long)d * batch * h;
            float* pD = p == null ? null : p + (long)d * 3 * h;
            int steps = lens is null ? s : lens.Max();
            var packed = rPacked[d].Packed;
            // h alternates between hD and a scratch copy: a step reads the old h whole while writing the new one.
            float* scratch = (float*)NativeMemory.AlignedAlloc((nuint)((long)batch * h * sizeof(float) + 2L * batch * sizeof(float*)), 64);
            try
            {
                float* hCur = hD, hNext = scratch;
                float** rowInp = (float**)(scratch + (long)batch * h), rowY = rowInp + batch;
                for (int k = 0; k < steps; k++)
                {
                    for (int bi = 0; bi < batch; bi++)
                    {
                        int len = lens is null ? s : lens[bi];
                        int t = reverse ? len - 1 - k : k;
                        // A finished row keeps its states (null: carried over).
                        rowInp[bi] = k >= len ? null : proj + ((long)t * batch + bi) * dirs * g4 + (long)d * g4;
                        rowY[bi] = y + (((long)t * dirs + d) * batch + bi) * h;
                    }
                    LstmRecurrent.Step(packed, hCur, hNext, cD, batch, rowInp, rowY, pD, 0, packed.Panels, clip, inputForget);
                    float* swap = hCur; hCur = hNext; hNext = swap;
                }
                if (hCur != hD) new ReadOnlySpan<float>(hCur, batch * h).CopyTo(new Span<float>(hD, batch * h));
            }
            finally { NativeMemory.AlignedFree(scratch); }
        }
    }
}
