using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Gemm;

/// <summary>c[1 x n] = epilogue(a[1 x k] @ B): memory-bound, so it streams B once with no packing.
/// Row-major B ([K, N], rows contiguous): each thread owns a column range and adds x[p] * B[p, range] into
/// c[range] (kept in L1), four rows of B per pass. Column-major B ([N, K] rows contiguous, a transposed
/// weight): one dot product per column, a column at a time. A <see cref="PackedB"/> is streamed panel by panel.</summary>
internal static unsafe class Gemv
{
    /// <summary>Columns of c updated together: 16 KB of c stays in L1 while four B rows stream past.</summary>
    private const int Chunk = 4096;

    public static bool TryRun(int n, int k, in GemmOperand a, in GemmOperand b, PackedB? packed, float* c, in GemmEpilogue ep, int threads)
    {
        bool rowMajor = packed == null && b.ColStride == 1 && b.Type is DType.F32 or DType.BF16;
        bool colMajor = packed == null && b.RowStride == 1 && b.Type is DType.F32 or DType.BF16;
        if (packed == null && !rowMajor && !colMajor) return false;

        float[] xs = Activation(k);
        fixed (float* xp = xs)
        {
            float* x = GemmPack.RowF32(a, 0, 0, k, xp);
            if (x != xp) Buffer.MemoryCopy(x, xp, k * 4L, k * 4L);
        }
        var bb = b; var e = ep;
        int nr = MicroKernel.NR;
        // Units of work: column chunks (row-major), 4-column groups (column-major) or NR panels (packed).
        int units = packed != null ? (n + nr - 1) / nr : rowMajor ? (n + Chunk - 1) / Chunk : (n + 3) / 4;
        if (rowMajor && threads > 1) units = Math.Max(units, Math.Min(threads, (n + 63) / 64));
        int parts = (long)n * k < 1 << 16 ? 1 : Math.Min(threads, units);
        Action<int> body = t =>
        {
            int u0 = (int)((long)units * t / parts), u1 = (int)((long)units * (t + 1) / parts);
            int j0, j1;
            fixed (float* x = xs)
            {
                if (packed != null)
                {
                    j0 = u0 * nr; j1 = Math.Min(n, u1 * nr);
                    Packed(packed, x, k, j0, j1, c);
                }
                else if (rowMajor)
                {
                    j0 = (int)((long)n * u0 / units); j1 = (int)((long)n * u1 / units);
                    for (int s = j0; s < j1; s += Chunk)
                        RowStream(bb, x, k, s, Math.Min(j1, s + Chunk), c);
                }
                else
                {
                    j0 = u0 * 4; j1 = Math.Min(n, u1 * 4);
                    Dots(bb, x, k, j0, j1, c);
                }
            }
            if (GemmEpilogueOps.Any(e) && j1 > j0) GemmEpilogueOps.Apply(c + j0, 0, 1, j1 - j0, 0, j0, e);
        };
        if (parts == 1) body(0);
        else CpuParallel.Run(parts, parts, body);
        return true;
    }

    [ThreadStatic] private static float[]? t_activation;

    // The caller's copy of a (f32, contiguous), reused from call to call: GEMV runs per decoded token, and a fresh
    // pinned array each time was most of its garbage. The caller waits for the helpers, so one array per calling
    // thread is never used by two calls at once.
    private static float[] Activation(int k)
    {
        var xs = t_activation;
        if (xs is null || xs.Length < k) t_activation = xs = GC.AllocateUninitializedArray<float>(Math.Max(k, 1024), pinned: true);
        return xs;
    }

    /// <summary>c[j0..j1] = sum_p x[p] B[p, j0..j1] for a row-major B.</summary>
    private static void RowStream(in GemmOperand b, float* x, int k, int j0, int j1, float* c)
    {
        int w = j1 - j0;
        float* acc = c + j0;
        new Span<float>(acc, w).Clear();
        long rs = b.RowStride;
        if (Vector512.IsHardwareAccelerated)
        {
            if (b.Type == DType.F32) RowStream512<F32Load>((float*)b.Ptr + j0, rs, x, k, acc, w);
            else RowStream512<Bf16Load>((ushort*)b.Ptr + j0, rs, x, k, acc, w);
            return;
        }
        float[] tmp = b.Type == DType.F32 ? [] : new float[w];
        fixed (float* t = tmp)
            for (int p = 0; p < k; p++)
            {
                float* r = GemmPack.RowF32(b, p, j0, w, t);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(r, w), x[p], new ReadOnlySpan<float>(acc, w), new Span<float>(acc, w));
            }
    }

    private static void RowStream512<L>(void* b, long rs, float* x, int k, float* acc, int w) where L : ILoad
    {
        int p = 0;
        for (; p + 4 <= k; p += 4)
        {
            var x0 = Vector512.Create(x[p]); var x1 = Vector512.Create(x[p + 1]);
            var x2 = Vector512.Create(x[p + 2]); var x3 = Vector512.Create(x[p + 3]);
            long r0 = p * rs, r1 = r0 + rs, r2 = r1 + rs, r3 = r2 + rs;
            int j = 0;
            for (; j + 16 <= w; j += 16)
            {
                var s = Vector512.Load(acc + j);
                s = Vector512.FusedMultiplyAdd(x0, L.Load(b, r0 + j), s);
                s = Vector512.FusedMultiplyAdd(x1, L.Load(b, r1 + j), s);
                s = Vector512.FusedMultiplyAdd(x2, L.Load(b, r2 + j), s);
                s = Vector512.FusedMultiplyAdd(x3, L.Load(b, r3 + j), s);
                s.Store(acc + j);
            }
            for (; j < w; j++)
                acc[j] += x[p] * L.Scalar(b, r0 + j) + x[p + 1] * L.Scalar(b, r1 + j) + x[p + 2] * L.Scalar(b, r2 + j) + x[p + 3] * L.Scalar(b, r3 + j);
        }
        for (; p < k; p++)
        {
            var x0 = Vector512.Create(x[p]);
            long r0 = p * rs;
            int j = 0;
            for (; j + 16 <= w; j += 16)
                Vector512.FusedMultiplyAdd(x0, L.Load(b, r0 + j), Vector512.Load(acc + j)).Store(acc + j);
            for (; j < w; j++) acc[j] += x[p] * L.Scalar(b, r0 + j);
        }
    }

    /// <summary>c[j] = dot(x, B[:, j]) for a column-major B (column j contiguous along k).</summary>
    private static void Dots(in GemmOperand b, float* x, int k, int j0, int j1, float* c)
    {
        long cs = b.ColStride;
        if (Vector512.IsHardwareAccelerated)
        {
            if (b.Type == DType.F32) Dots512<F32Load>(b.Ptr, cs, x, k, j0, j1, c);
            else Dots512<Bf16Load>(b.Ptr, cs, x, k, j0, j1, c);
            return;
        }
        float[] tmp = new float[k];
        fixed (float* t = tmp)
            for (int j = j0; j < j1; j++)
            {
                float* col = GemmPack.RowF32(GemmPack.Transposed(b), j, 0, k, t);
                c[j] = TensorPrimitives.Dot(new ReadOnlySpan<float>(col, k), new ReadOnlySpan<float>(x, k));
            }
    }

    // One column at a time: B is then read as one sequential stream (column j + 1 follows column j in memory), which
    // the hardware prefetchers follow; four columns at a time read four streams a row apart that restart every group.
    // Measured on the Zen 4 dev machine (1 thread, 96 distinct 768 x 768 bf16 weights): 17.5 vs 10 GB/s (f32, in
    // DotGemm: 31 vs 15).
    private static void Dots512<L>(void* b, long cs, float* x, int k, int j0, int j1, float* c) where L : ILoad
    {
        for (int j = j0; j < j1; j++)
        {
            long o = j * cs;
            Vector512<float> s = default;
            int p = 0;
            for (; p + 16 <= k; p += 16) s = Vector512.FusedMultiplyAdd(Vector512.Load(x + p), L.Load(b, o + p), s);
            float d = Vector512.Sum(s);
            for (; p < k; p++) d += x[p] * L.Scalar(b, o + p);
            c[j] = d;
        }
    }

    /// <summary>c[j0..j1] from a pre-packed B: each NR-panel is kc x NR floats, read once, start to end.</summary>
    private static void Packed(PackedB pb, float* x, int k, int j0, int j1, float* c)
    {
        int nr = pb.NR;
        float* tmp = stackalloc float[64];
        for (int jp = j0; jp < j1; jp += nr)
        {
            int cols = Math.Min(nr, j1 - jp);
            new Span<float>(tmp, nr).Clear();
            for (int pc = 0; pc < k; pc += Sgemm.KC)
            {
                int kc = Math.Min(Sgemm.KC, k - pc);
                float* panel = pb.Block(pc, jp);
                if (nr == 32 && Vector512.IsHardwareAccelerated)
                {
                    // The two accumulators stay in registers over the whole panel.
                    Vector512<float> s0 = Vector512.Load(tmp), s1 = Vector512.Load(tmp + 16);
                    for (int p = 0; p < kc; p++, panel += 32)
                    {
                        var xv = Vector512.Create(x[pc + p]);
                        s0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(panel), s0);
                        s1 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(panel + 16), s1);
                    }
                    s0.Store(tmp); s1.Store(tmp + 16);
                    continue;
                }
                for (int p = 0; p < kc; p++)
                {
                    float xv = x[pc + p];
                    float* row = panel + (long)p * nr;
                    int j = 0;
                    if (Vector512.IsHardwareAccelerated)
                        for (; j + 16 <= nr; j += 16)
                            Vector512.FusedMultiplyAdd(Vector512.Create(xv), Vector512.Load(row + j), Vector512.Load(tmp + j)).Store(tmp + j);
                    for (; j < nr; j++) tmp[j] += xv * row[j];
                }
            }
            for (int j = 0; j < cols; j++) c[jp + j] = tmp[j];
        }
    }

    private interface ILoad
    {
        static abstract Vector512<float> Load(void* p, long i);
        static abstract float Scalar(void* p, long i);
    }

    private readonly struct F32Load : ILoad
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(void* p, long i) => Vector512.Load((float*)p + i);
        public static float Scalar(void* p, long i) => ((float*)p)[i];
    }

    private readonly struct Bf16Load : ILoad
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(void* p, long i) =>
            Vector512.ShiftLeft(Vector512.WidenLower(Vector512.Create(Vector256.Load((ushort*)p + i), Vector256<ushort>.Zero)), 16).AsSingle();
        public static float Scalar(void* p, long i) => BitConverter.Int32BitsToSingle(((ushort*)p)[i] << 16);
    }
}
