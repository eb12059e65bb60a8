using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Gemm;

/// <summary>Packing of GEMM operands into the panel layouts the micro-kernel reads. Packing is where strides and
/// dtypes disappear: any row/column stride (so transposed views cost nothing extra) and f16/bf16 are turned into
/// dense f32 panels, zero-padded to whole register tiles so the kernel never sees an edge.</summary>
internal static unsafe class GemmPack
{
    /// <summary>Elements [row, col0 .. col0+count) of a strided operand as a dense f32 run: the source itself when it
    /// already is one, otherwise converted into <paramref name="scratch"/> (vectorised for a unit stride).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float* RowF32(in GemmOperand o, long row, long col0, int count, float* scratch)
    {
        long at = row * o.RowStride + col0 * o.ColStride;
        if (o.ColStride == 1 || count == 1)
        {
            switch (o.Type)
            {
                case DType.F32: return (float*)o.Ptr + at;
                case DType.BF16: Bf16.ToF32((ushort*)o.Ptr + at, scratch, count); return scratch;
                case DType.F16:
                    TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)o.Ptr + at, count), new Span<float>(scratch, count));
                    return scratch;
            }
        }
        long cs = o.ColStride;
        switch (o.Type)
        {
            case DType.F32: { float* s = (float*)o.Ptr + at; for (int i = 0; i < count; i++) scratch[i] = s[i * cs]; break; }
            case DType.BF16: { ushort* s = (ushort*)o.Ptr + at; for (int i = 0; i < count; i++) scratch[i] = BitConverter.Int32BitsToSingle(s[i * cs] << 16); break; }
            case DType.F16: { Half* s = (Half*)o.Ptr + at; for (int i = 0; i < count; i++) scratch[i] = (float)s[i * cs]; break; }
            default: throw new TesseraException($"gemm: unsupported operand dtype {o.Type.Name()}");
        }
        return scratch;
    }

    /// <summary>The same operand read with rows and columns swapped.</summary>
    public static GemmOperand Transposed(in GemmOperand o) => new(o.Ptr, o.Type, o.ColStride, o.RowStride);

    /// <summary>Packs B[pc .. pc+kc, jc .. jc+nc] into ceil(nc/nr) panels of kc x nr floats (panel after panel),
    /// the last one zero-padded.</summary>
    public static void PackB(in GemmOperand b, int pc, int kc, int jc, int nc, int nr, float* dst, float* scratch)
    {
        int panels = (nc + nr - 1) / nr;
        long panelSize = (long)kc * nr;
        if (b.ColStride == 1 || b.RowStride != 1)
        {
            // Row-major (the usual weight layout [K, N]): each source row is a contiguous run feeding every panel.
            for (int p = 0; p < kc; p++)
            {
                float* row = RowF32(b, pc + p, jc, nc, scratch);
                float* d = dst + (long)p * nr;
                for (int jp = 0; jp < panels; jp++, d += panelSize, row += nr)
                {
                    int cols = Math.Min(nr, nc - jp * nr);
                    if (cols == nr) CopyTile(row, d, nr);
                    else
                    {
                        for (int j = 0; j < cols; j++) d[j] = row[j];
                        for (int j = cols; j < nr; j++) d[j] = 0;
                    }
                }
            }
            return;
        }
        // Column-major B (a transposed [N, K] weight): B's panels are exactly A's panels of B^T (nr values of one k
        // together, panel after panel), so A's packer, with its SSE transposes, does it.
        PackA(Transposed(b), jc, nc, pc, kc, nr, dst, scratch);
    }

    /// <summary>Packs A[ic .. ic+mc, pc .. pc+kc] into ceil(mc/mr) panels of kc x mr floats (mr values of one k
    /// together), the last one zero-padded.</summary>
    public static void PackA(in GemmOperand a, int ic, int mc, int pc, int kc, int mr, float* dst, float* scratch)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* d = dst + (long)ir * kc;
            if (rows == mr && mr % 4 == 0 && a.Type == DType.F32 && a.ColStride == 1 && Sse.IsSupported)
                PackAPanelF32((float*)a.Ptr + (ic + ir) * a.RowStride + pc, a.RowStride, kc, mr, d);
            else if (a.ColStride == 1 || a.RowStride != 1)
            {
                for (int r = 0; r < rows; r++)
                {
                    float* row = RowF32(a, ic + ir + r, pc, kc, scratch);
                    for (int p = 0; p < kc; p++) d[(long)p * mr + r] = row[p];
                }
            }
            else
            {
                var at = Transposed(a);
                for (int p = 0; p < kc; p++)
                {
                    float* col = RowF32(at, pc + p, ic + ir, rows, scratch);
                    for (int r = 0; r < rows; r++) d[(long)p * mr + r] = col[r];
                }
            }
            if (rows < mr)
                for (int p = 0; p < kc; p++)
                    for (int r = rows; r < mr; r++) d[(long)p * mr + r] = 0;
        }
    }

    /// <summary>One full MR-row panel of a row-major f32 A, by 4 x 4 SSE transposes (4 loads, 8 shuffles and 4 stores
    /// per 16 values instead of 16 scalar loads and stores): the A pack is otherwise ~5% of a 197-row GEMM.</summary>
    private static void PackAPanelF32(float* src, long lda, int kc, int mr, float* d)
    {
        for (int g = 0; g < mr; g += 4)
        {
            float* r0 = src + g * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda;
            float* o = d + g;
            int p = 0;
            for (; p + 4 <= kc; p += 4, o += 4 * mr)
            {
                var a0 = Sse.LoadVector128(r0 + p); var a1 = Sse.LoadVector128(r1 + p);
                var a2 = Sse.LoadVector128(r2 + p); var a3 = Sse.LoadVector128(r3 + p);
                var t0 = Sse.UnpackLow(a0, a1); var t1 = Sse.UnpackLow(a2, a3);
                var t2 = Sse.UnpackHigh(a0, a1); var t3 = Sse.UnpackHigh(a2, a3);
                Sse.Store(o, Sse.MoveLowToHigh(t0, t1));
                Sse.Store(o + mr, Sse.MoveHighToLow(t1, t0));
                Sse.Store(o + 2 * mr, Sse.MoveLowToHigh(t2, t3));
                Sse.Store(o + 3 * mr, Sse.MoveHighToLow(t3, t2));
            }
            for (; p < kc; p++, o += mr) { o[0] = r0[p]; o[1] = r1[p]; o[2] = r2[p]; o[3] = r3[p]; }
        }
    }

    /// <summary>Prefetches rows p0..p1 of a packed B panel.</summary>
    public static void PrefetchPacked(float* panel, int p0, int p1, int nr)
    {
        if (!Sse.IsSupported) return;
        byte* s = (byte*)(panel + (long)p0 * nr), e = (byte*)(panel + (long)p1 * nr);
        for (; s < e; s += 64) Sse.Prefetch0(s);
    }

    /// <summary>Prefetches into L2 lines [l0, l1) of a set of runs (<paramref name="linesPerRun"/> cache lines each,
    /// <paramref name="runStride"/> bytes apart) starting at <paramref name="b"/>.</summary>
    public static void PrefetchRuns(byte* b, long runStride, int linesPerRun, int l0, int l1)
    {
        if (!Sse.IsSupported || l0 >= l1) return;
        int run = l0 / linesPerRun, line = l0 - run * linesPerRun;
        byte* s = b + run * runStride + line * 64L;
        for (int l = l0; l < l1; l++)
        {
            Sse.Prefetch1(s);
            if (++line == linesPerRun) { line = 0; run++; s = b + run * runStride; }
            else s += 64;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyTile(float* s, float* d, int n)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j + 16 <= n; j += 16) Vector512.Store(Vector512.Load(s + j), d + j);
        else if (Vector256.IsHardwareAccelerated)
            for (; j + 8 <= n; j += 8) Vector256.Store(Vector256.Load(s + j), d + j);
        for (; j < n; j++) d[j] = s[j];
    }
}
