using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Quant;

/// <summary>The managed panel kernels on AVX-512BW (.NET 10 names no 512-bit vpdpbusd): for each 64-byte chunk of a
/// panel block, vpmaddubsw of the unsigned weight bytes (int32 lane j = column j, 4 consecutive K elements) with the
/// activation row's 4 matching bytes broadcast, summed in int16 over the block, then one vpmaddwd with ones gives
/// each column's block dot whole in its lane. Per block and row: + the record's correction (int32), convert, and one
/// FMA with dw * dx into the row's 16-column accumulator. That is <see cref="Q32PanelReference"/>'s arithmetic
/// exactly (every integer step is exact; the float steps are the same operations in the same order), so a row's
/// result does not depend on the tile it ran in, nor on whether this kernel or an emitted one ran.
/// <para>Exactness of the int16 sums: Q4_0 nibbles u &lt;= 15 and |q| &lt;= 128 give at most 16 * 15 * 128 = 30720
/// per lane over a block. Q8_0's u goes to 255, so its bytes are split into nibbles (u = 16 hi + lo) and each half
/// summed like Q4_0's (per half block), then vpmaddwd with 1 and 16.</para></summary>
internal static unsafe class Q32PanelKernels
{
    public static bool Supported => Avx512BW.IsSupported;

    /// <summary>The kernel for (format, rows 1..8) over weights of <paramref name="blocks"/> blocks per row, panels
    /// <see cref="Q32Panels.PanelBytes"/> apart: the emitted one where <see cref="PanelKernelSource.Emitted"/> has it,
    /// else the managed one.</summary>
    public static PanelKernel For(DType t, int rows, int blocks)
    {
        nint native = PanelKernelSource.Emitted?.Invoke(t, rows, blocks) ?? 0;
        return native != 0
            ? new PanelKernel((delegate* unmanaged[SuppressGCTransition]<QPanelArgs*, void>)native)
            : new PanelKernel(Managed(t, rows));
    }

    /// <summary>The managed kernel for (format, rows 1..8).</summary>
    public static delegate*<QPanelArgs*, void> Managed(DType t, int rows) => (t, rows) switch
    {
        (DType.Q4_0, 1) => &Q4_0<Rows1>, (DType.Q4_0, 2) => &Q4_0<Rows2>, (DType.Q4_0, 3) => &Q4_0<Rows3>, (DType.Q4_0, 4) => &Q4_0<Rows4>,
        (DType.Q4_0, 5) => &Q4_0<Rows5>, (DType.Q4_0, 6) => &Q4_0<Rows6>, (DType.Q4_0, 7) => &Q4_0<Rows7>, (DType.Q4_0, 8) => &Q4_0<Rows8>,
        (DType.Q8_0, 1) => &Q8_0<Rows1>, (DType.Q8_0, 2) => &Q8_0<Rows2>, (DType.Q8_0, 3) => &Q8_0<Rows3>, (DType.Q8_0, 4) => &Q8_0<Rows4>,
        (DType.Q8_0, 5) => &Q8_0<Rows5>, (DType.Q8_0, 6) => &Q8_0<Rows6>, (DType.Q8_0, 7) => &Q8_0<Rows7>, (DType.Q8_0, 8) => &Q8_0<Rows8>,
        _ => throw new ArgumentException($"no panel kernel for {t} with {rows} activation rows (Q8_0/Q4_0, 1..8 rows)"),
    };

    /// <summary>Q4_0 panels: chunk c's low nibbles are k-group c, its high nibbles k-group 4 + c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4_0<TR>(QPanelArgs* args) where TR : struct, IRows
    {
        const int Rec = Q32ActRecords.RecordBytes;
        int n = TR.N, blocks = args->Blocks, panels = args->Panels;
        long stride = args->ActBlockStride, ds = args->DstRowStride, panelBytes = args->PanelBytes;
        var low = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        var tail = TailMask(args->LastCols);
        for (int pp = 0; pp < panels; pp++)
        {
            byte* q = args->Weights + pp * panelBytes, sc = q + 256, act = args->Act;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int b = 0; b < blocks; b++, q += 256 + Q32Panels.ScaleBytes, sc += 256 + Q32Panels.ScaleBytes, act += stride)
            {
                if (n <= StreamRows) Prefetch(q, sc, 4);
                var c0 = Vector512.Load(q); var c1 = Vector512.Load(q + 64); var c2 = Vector512.Load(q + 128); var c3 = Vector512.Load(q + 192);
                var w0 = c0 & low; var w1 = c1 & low; var w2 = c2 & low; var w3 = c3 & low;
                var w4 = High(c0, low); var w5 = High(c1, low); var w6 = High(c2, low); var w7 = High(c3, low);
                var dw = Scales(sc);
                a0 = Q4Row(a0, w0, w1, w2, w3, w4, w5, w6, w7, act, dw, ones);
                if (n > 1) a1 = Q4Row(a1, w0, w1, w2, w3, w4, w5, w6, w7, act + Rec, dw, ones);
                if (n > 2) a2 = Q4Row(a2, w0, w1, w2, w3, w4, w5, w6, w7, act + 2 * Rec, dw, ones);
                if (n > 3) a3 = Q4Row(a3, w0, w1, w2, w3, w4, w5, w6, w7, act + 3 * Rec, dw, ones);
                if (n > 4) a4 = Q4Row(a4, w0, w1, w2, w3, w4, w5, w6, w7, act + 4 * Rec, dw, ones);
                if (n > 5) a5 = Q4Row(a5, w0, w1, w2, w3, w4, w5, w6, w7, act + 5 * Rec, dw, ones);
                if (n > 6) a6 = Q4Row(a6, w0, w1, w2, w3, w4, w5, w6, w7, act + 6 * Rec, dw, ones);
                if (n > 7) a7 = Q4Row(a7, w0, w1, w2, w3, w4, w5, w6, w7, act + 7 * Rec, dw, ones);
            }
            StoreRows<TR>(args->Dst + pp * Q32Panels.Width, ds, pp == panels - 1, tail, a0, a1, a2, a3, a4, a5, a6, a7);
        }
    }

    /// <summary>Q8_0 panels: chunk g is k-group g; its bytes split into low and high nibbles (see the class notes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8_0<TR>(QPanelArgs* args) where TR : struct, IRows
    {
        const int Rec = Q32ActRecords.RecordBytes;
        int n = TR.N, blocks = args->Blocks, panels = args->Panels;
        long stride = args->ActBlockStride, ds = args->DstRowStride, panelBytes = args->PanelBytes;
        var low = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        var sixteens = Vector512.Create((short)16);
        var tail = TailMask(args->LastCols);
        for (int pp = 0; pp < panels; pp++)
        {
            byte* q = args->Weights + pp * panelBytes, sc = q + 512, act = args->Act;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int b = 0; b < blocks; b++, q += 512 + Q32Panels.ScaleBytes, sc += 512 + Q32Panels.ScaleBytes, act += stride)
            {
                if (n <= StreamRows) Prefetch(q, sc, 8);
                var c0 = Vector512.Load(q); var c1 = Vector512.Load(q + 64); var c2 = Vector512.Load(q + 128); var c3 = Vector512.Load(q + 192);
                var c4 = Vector512.Load(q + 256); var c5 = Vector512.Load(q + 320); var c6 = Vector512.Load(q + 384); var c7 = Vector512.Load(q + 448);
                var l0 = c0 & low; var l1 = c1 & low; var l2 = c2 & low; var l3 = c3 & low;
                var l4 = c4 & low; var l5 = c5 & low; var l6 = c6 & low; var l7 = c7 & low;
                var h0 = High(c0, low); var h1 = High(c1, low); var h2 = High(c2, low); var h3 = High(c3, low);
                var h4 = High(c4, low); var h5 = High(c5, low); var h6 = High(c6, low); var h7 = High(c7, low);
                var dw = Scales(sc);
                a0 = Finish(a0, Q8Half(l0, l1, l2, l3, h0, h1, h2, h3, act, ones, sixteens)
                    + Q8Half(l4, l5, l6, l7, h4, h5, h6, h7, act + 16, ones, sixteens), act, dw);
                if (n > 1) a1 = Finish(a1, Q8Half(l0, l1, l2, l3, h0, h1, h2, h3, act + Rec, ones, sixteens)
                               + Q8Half(l4, l5, l6, l7, h4, h5, h6, h7, act + Rec + 16, ones, sixteens), act + Rec, dw);
                if (n > 2) a2 = Finish(a2, Q8Half(l0, l1, l2, l3, h0, h1, h2, h3, act + 2 * Rec, ones, sixteens)
                               + Q8Half(l4, l5, l6, l7, h4, h5, h6, h7, act + 2 * Rec + 16, ones, sixteens), act + 2 * Rec, dw);
                if (n > 3) a3 = Finish(a3, Q8Half(l0, l1, l2, l3, h0, h1, h2, h3, act + 3 * Rec, ones, sixteens)
                               + Q8Half(l4, l5, l6, l7, h4, h5, h6, h7, act + 3 * Rec + 16, ones, sixteens), act + 3 * Rec, dw);
                if (n > 4) a4 = Finish(a4, Q8Half(l0, l1, l2, l3, h0, h1, h2, h3, act + 4 * Rec, ones, sixteens)
                               + Q8Half(l4, l5, l6, l7, h4, h5, h6, h7, act + 4 * Rec + 16, ones, sixteens), act + 4 * Rec, dw);
                if (n > 5) a5 = Finish(a5, Q8Half(l0, l1, l2, l3, h0, h1, h2, h3, act + 5 * Rec, ones, sixteens)
                               + Q8Half(l4, l5, l6, l7, h4, h5, h6, h7, act + 5 * Rec + 16, ones, sixteens), act + 5 * Rec, dw);
                if (n > 6) a6 = Finish(a6, Q8Half(l0, l1, l2, l3, h0, h1, h2, h3, act + 6 * Rec, ones, sixteens)
                               + Q8Half(l4, l5, l6, l7, h4, h5, h6, h7, act + 6 * Rec + 16, ones, sixteens), act + 6 * Rec, dw);
                if (n > 7) a7 = Finish(a7, Q8Half(l0, l1, l2, l3, h0, h1, h2, h3, act + 7 * Rec, ones, sixteens)
                               + Q8Half(l4, l5, l6, l7, h4, h5, h6, h7, act + 7 * Rec + 16, ones, sixteens), act + 7 * Rec, dw);
            }
            StoreRows<TR>(args->Dst + pp * Q32Panels.Width, ds, pp == panels - 1, tail, a0, a1, a2, a3, a4, a5, a6, a7);
        }
    }

    /// <summary>One Q4_0 block of one activation row: 8 products summed in int16 (exact), one vpmaddwd, the
    /// correction, then acc = fma(dot, dw * dx, acc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q4Row(Vector512<float> acc, Vector512<byte> w0, Vector512<byte> w1, Vector512<byte> w2, Vector512<byte> w3,
        Vector512<byte> w4, Vector512<byte> w5, Vector512<byte> w6, Vector512<byte> w7, byte* rec, Vector512<float> dw, Vector512<short> ones)
    {
        var s = (Mad(w0, rec) + Mad(w1, rec + 4)) + (Mad(w2, rec + 8) + Mad(w3, rec + 12))
              + ((Mad(w4, rec + 16) + Mad(w5, rec + 20)) + (Mad(w6, rec + 24) + Mad(w7, rec + 28)));
        return Finish(acc, Avx512BW.MultiplyAddAdjacent(s, ones), rec, dw);
    }

    /// <summary>Half a Q8_0 block (k-groups at rec .. rec + 15) of one activation row, as int32 lanes: the low and
    /// high nibble products each summed in int16 (exact), joined as lo + 16 hi. (Two halves of 11 arguments rather
    /// than one helper of 22, to stay well inside the JIT's inlining limits; the listing shows no calls.)</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Q8Half(Vector512<byte> l0, Vector512<byte> l1, Vector512<byte> l2, Vector512<byte> l3,
        Vector512<byte> h0, Vector512<byte> h1, Vector512<byte> h2, Vector512<byte> h3, byte* rec, Vector512<short> ones, Vector512<short> sixteens)
    {
        var x0 = Broadcast(rec); var x1 = Broadcast(rec + 4); var x2 = Broadcast(rec + 8); var x3 = Broadcast(rec + 12);
        var lo = (Mad(l0, x0) + Mad(l1, x1)) + (Mad(l2, x2) + Mad(l3, x3));
        var hi = (Mad(h0, x0) + Mad(h1, x1)) + (Mad(h2, x2) + Mad(h3, x3));
        return Avx512BW.MultiplyAddAdjacent(lo, ones) + Avx512BW.MultiplyAddAdjacent(hi, sixteens);
    }

    /// <summary>The end of a block for one row: + the correction, convert, acc = fma(dot, dw * dx, acc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Finish(Vector512<float> acc, Vector512<int> dot, byte* rec, Vector512<float> dw) =>
        Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(dot + Vector512.Create(*(int*)(rec + Q32ActRecords.CorrAt))),
            dw * Vector512.Create(*(float*)(rec + Q32ActRecords.ScaleAt)), acc);

    /// <summary>Row counts up to which a call streams its panels from memory (decode): the block's quant lines
    /// <see cref="PrefetchAhead"/> bytes ahead are prefetched (and its scales' line), so that more misses are in flight
    /// than the hardware prefetcher keeps on one stream. With more rows the panels come from L2.</summary>
    private const int StreamRows = 2, PrefetchAhead = 4096;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* q, byte* sc, int lines)
    {
        for (int i = 0; i < lines; i++) Sse.Prefetch0(q + PrefetchAhead + 64 * i);
        Sse.Prefetch0(sc + PrefetchAhead);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Broadcast(byte* p) => Vector512.Create(*(int*)p).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Mad(Vector512<byte> w, byte* x) => Avx512BW.MultiplyAddAdjacent(w, Broadcast(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Mad(Vector512<byte> w, Vector512<sbyte> x) => Avx512BW.MultiplyAddAdjacent(w, x);

    /// <summary>The high nibble of each byte: one gf2p8affineqb where GFNI is present (the bit matrix that moves bits
    /// 4..7 to 0..3 and clears the rest), else a 16-bit shift and a mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> High(Vector512<byte> c, Vector512<byte> low) => Gfni.V512.IsSupported
        ? Gfni.V512.GaloisFieldAffineTransform(c, Vector512.Create(0x1020408000000000UL).AsByte(), 0)
        : Avx512BW.ShiftRightLogical(c.AsUInt16(), 4).AsByte() & low;

    /// <summary>A block's 16 f16 column scales as f32, exactly as (float)Half converts them: the f16 sign-extended
    /// to int32 and shifted up 13 puts its sign, exponent and mantissa in f32 position (mask off the copies of the
    /// sign), times 2^112 rebiases the exponent (exact, subnormals included); exponent 31 (inf, NaN) gets the f32
    /// exponent 255 instead.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Scales(byte* s)
    {
        var h = Avx512F.ConvertToVector512Int32(Vector256.Load((short*)s));
        var bits = Avx512F.ShiftLeftLogical(h, 13) & Vector512.Create(unchecked((int)0x8FFFE000));
        var finite = bits.AsSingle() * Vector512.Create(5.192296858534828e33f);
        var exp = Vector512.Create(0x7C00);
        return Vector512.ConditionalSelect(Vector512.Equals(h & exp, exp).AsSingle(), (bits | Vector512.Create(0x7F800000)).AsSingle(), finite);
    }

    /// <summary>Lanes below <paramref name="lastCols"/> set: the columns of the last panel that exist.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TailMask(int lastCols) =>
        Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(lastCols)).AsSingle();

    /// <summary>Stores the TR.N rows' 16 columns of one panel (only the valid columns of the last one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRows<TR>(float* d, long ds, bool last, Vector512<float> tail, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2,
        Vector512<float> a3, Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7) where TR : struct, IRows
    {
        int n = TR.N;
        if (!last)
        {
            a0.Store(d);
            if (n > 1) a1.Store(d + ds);
            if (n > 2) a2.Store(d + 2 * ds);
            if (n > 3) a3.Store(d + 3 * ds);
            if (n > 4) a4.Store(d + 4 * ds);
            if (n > 5) a5.Store(d + 5 * ds);
            if (n > 6) a6.Store(d + 6 * ds);
            if (n > 7) a7.Store(d + 7 * ds);
            return;
        }
        Avx512F.MaskStore(d, tail, a0);
        if (n > 1) Avx512F.MaskStore(d + ds, tail, a1);
        if (n > 2) Avx512F.MaskStore(d + 2 * ds, tail, a2);
        if (n > 3) Avx512F.MaskStore(d + 3 * ds, tail, a3);
        if (n > 4) Avx512F.MaskStore(d + 4 * ds, tail, a4);
        if (n > 5) Avx512F.MaskStore(d + 5 * ds, tail, a5);
        if (n > 6) Avx512F.MaskStore(d + 6 * ds, tail, a6);
        if (n > 7) Avx512F.MaskStore(d + 7 * ds, tail, a7);
    }
}
