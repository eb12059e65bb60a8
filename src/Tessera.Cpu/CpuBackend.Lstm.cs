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
        if (options.Mismatch(x, w, r, b, seqLens, initialH, initialC, p, y, yH, yC) is { } mismatch) throw new TesseraException(mismatch);
        int s = x.Shape[0], batch = x.Shape[1], input = x.Shape[2], dirs = options.Directions, h = r.Shape[-1], g4 = 4 * h;
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
        var wPacked = new PackedUse?[dirs];
        var rPacked = new PackedR?[dirs];
        try
        {
            for (int d = 0; d < dirs; d++)
            {
                if (rows >= 4) wPacked[d] = PackTransposed(w, wc, (long)d * g4 * input, input, g4);
                rPacked[d] = PackRecurrent(r, rc, (long)d * g4 * h, h);
            }
            fixed (float* biasP = bias)
            {
                var run = new LstmRun(s, batch, input, h, dirs, lens, Ptr<float>(xc), Ptr<float>(wc), wPacked, biasP, proj, rPacked,
                    pc is null ? null : Ptr<float>(pc), Ptr<float>(yF), Ptr<float>(hF), Ptr<float>(cF), options.Clip ?? 0f, options.InputForget);
                if (dirs == 2 && Threads >= 2)
                {
                    // The directions are independent: one a thread, each projecting its own half (its W and R stay in
                    // its own core's cache) and walking its steps, no synchronisation between them.
                    CpuParallel.Run(2, 2, d =>
                    {
                        run.Project(d, 1);
                        run.Walk(d, options.IsReverse(d), 1);
                    });
                }
                else
                {
                    // One direction (or one thread): every thread on the projection, then on each step's panels.
                    for (int d = 0; d < dirs; d++) run.Project(d, Threads);
                    for (int d = 0; d < dirs; d++) run.Walk(d, options.IsReverse(d), Threads);
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(proj);
            foreach (var wp in wPacked) wp?.Dispose();
            foreach (var rp in rPacked) rp?.Dispose();
        }
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

    // One call's buffers: x [S*B, I], w [D, 4H, I] (packed per direction when there are 4 rows or more), summed
    // biases [D*4H], proj [S*B, D*4H], R packed per direction, p [D, 3H] or null, y [S, D, B, H], h and c [D, B, H].
    private sealed class LstmRun(int s, int batch, int input, int h, int dirs, int[]? lens, float* x, float* w, PackedUse?[] wPacked,
        float* bias, float* proj, PackedR?[] rPacked, float* p, float* y, float* hs, float* cs, float clip, bool inputForget)
    {
        /// <summary>proj[:, d*4H .. (d+1)*4H] = x W_d^T + biases: one SGEMM (x [S*B, I], W_d^T [I, 4H]).</summary>
        public void Project(int d, int threads)
        {
            int g4 = 4 * h;
            long width = (long)dirs * g4;
            Sgemm.Multiply(s * batch, g4, input, new GemmOperand(x, DType.F32, input, 1),
                new GemmOperand(w + (long)d * g4 * input, DType.F32, 1, input), wPacked[d]?.Packed, proj + (long)d * g4, width,
                new GemmEpilogue(bias + (long)d * g4, Activation.None, null, 0, 0), threads);
        }

        /// <summary>Direction d's steps. With several threads each step's panels are split in parts; a part is claimed
        /// in step order from one shared counter and starts once every part of the previous step is done, so a thread
        /// only ever waits for parts that running threads hold (a pool that runs the parts one after the other on one
        /// thread, when busy or nested, simply claims them all in order).</summary>
        public void Walk(int d, bool reverse, int threads)
        {
            var packed = rPacked[d]!.Packed;
            int steps = lens is null ? s : lens.Max();
            int parts = Math.Clamp(Math.Min(threads, packed.Panels), 1, 64);
            // h alternates between hD and a scratch copy: a step reads the old h whole while writing the new one.
            float* hD = hs + (long)d * batch * h;
            float* scratch = (float*)NativeMemory.AlignedAlloc((nuint)((long)batch * h * sizeof(float)), 64);
            try
            {
                var counters = new int[2]; // next unclaimed part, parts done
                if (parts == 1) Participate(counters, d, reverse, packed, hD, scratch, steps, parts);
                else CpuParallel.Run(parts, parts, _ => Participate(counters, d, reverse, packed, hD, scratch, steps, parts));
                float* last = steps % 2 == 0 ? hD : scratch;
                if (last != hD) new ReadOnlySpan<float>(last, batch * h).CopyTo(new Span<float>(hD, batch * h));
            }
            finally { NativeMemory.AlignedFree(scratch); }
        }

        private void Participate(int[] counters, int d, bool reverse, LstmPackedR packed, float* hA, float* hB, int steps, int parts)
        {
            int g4 = 4 * h;
            float* cD = cs + (long)d * batch * h;
            float* pD = p == null ? null : p + (long)d * 3 * h;
            var rows = new nint[2 * batch];
            fixed (nint* rowsP = rows)
            {
                float** rowInp = (float**)rowsP, rowY = rowInp + batch;
                long total = (long)steps * parts;
                while (true)
                {
                    long item = Interlocked.Increment(ref counters[0]) - 1;
                    if (item >= total) return;
                    int k = (int)(item / parts), part = (int)(item % parts);
                    for (int bi = 0; bi < batch; bi++)
                    {
                        int len = lens is null ? s : lens[bi];
                        int t = reverse ? len - 1 - k : k;
                        // A finished row keeps its states (null: carried over).
                        rowInp[bi] = k >= len ? null : proj + ((long)t * batch + bi) * dirs * g4 + (long)d * g4;
                        rowY[bi] = y + (((long)t * dirs + d) * batch + bi) * h;
                    }
                    if (parts > 1)
                    {
                        var spin = new SpinWait();
                        while (Volatile.Read(ref counters[1]) < k * parts) spin.SpinOnce(sleep1Threshold: -1);
                    }
                    float* hCur = k % 2 == 0 ? hA : hB, hNext = k % 2 == 0 ? hB : hA;
                    int u0 = (int)((long)packed.Panels * part / parts), u1 = (int)((long)packed.Panels * (part + 1) / parts);
                    LstmRecurrent.Step(packed, hCur, hNext, cD, batch, rowInp, rowY, pD, u0, u1, clip, inputForget);
                    Interlocked.Increment(ref counters[1]);
                }
            }
        }
    }
}
