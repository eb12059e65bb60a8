using ILGPU;

namespace Tessera.Kernels;

// Quantized linear layers: dst[m, n] = epilogue(x[m, :] . dequantize(w[n, :])) for a weight [N, K] stored as GGUF
// blocks (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K; blocks along K, read in place, byte for byte as GGUF stores them) or as
// int8 with per-row scales. Reference: CpuBackend.QuantizedMatMul (src/Tessera.Cpu/Quant) and the dequantize-then-
// double product of tests/Tessera.Tests/QuantizedMatMulTests.cs.
//
// Three kernels, run in order by the host:
// 1. QuantizeActivations: x (f32/f16/bf16, any strides) -> int8 q [M, KPad] and scales d [M, Groups], exactly as the
//    CPU backend does (QuantizedRows): per group (a row for I8, 32 for Q8_0/Q4_0/Q4_1, 256 for Q4_K/Q6_K)
//    d = max|x| / 127, q = round-half-even(x * (1 / d)). One warp a group, a warp max, no fused multiply-add on the
//    way (mul then cvt.rni), so the GPU's q and d are bit-identical to the CPU's. KPad = K rounded up to 32 (zeros).
// 2. Gemv (decode, small M): one warp per output (m, n). The K axis is cut in units of 32 weights (a Q8_0/Q4_0/Q4_1
//    block, a K-format sub-block, 32 int8 weights) and each unit in 4 chunks of 8; lane l takes chunk l % 4 of units
//    l / 4, l / 4 + 8, ..., so a warp reads 8 consecutive blocks at a time (contiguous bytes, every fetched sector
//    used). A chunk is two 4-byte words of weights, dotted with two words of activations by dp4a (inline PTX; plain
//    C# on the CPU accelerator), then scaled: every format maps its stored bytes affinely, w = s * byte + b, so a
//    chunk adds dx * (s * dot(bytes, q) + b * sum(q)) (the sum is one more dp4a with 0x01010101). A warp sum, the
//    epilogue (bias, activation, multiplier, residual) and one store close the output.
// 3. Gemm (prefill): one block of 256 threads per 64 x 64 output tile (grid-stride over tiles), K walked one unit of
//    32 at a time: each thread dequantizes 8 activations (q * dx) and 8 weights (s * byte + b, through the same
//    chunk reader) into two k-major shared tiles of 32 x 64 floats (rows padded to 65: the 4 chunks x 8 rows a warp
//    writes land in distinct banks), then runs the 4 x 4 register tile of GemmKernels.Tiled over the 32 k's. Each
//    weight block is read once per 64 rows of x. f32 arithmetic on exactly representable dequantized values.
// ILGPU does not unroll: the 8-element stores and the 4 x 4 tile are written out. if-chains, no switch (O1 build).

/// <summary>Sizes of one quantized matmul launch. Host mirror: Tessera.Cuda.QMatArgsArg.</summary>
public struct QMatArgs
{
    /// <summary>Byte offset of the weight's first row in its buffer, and bytes per weight row.</summary>
    public long WOffset, RowBytes;
    /// <summary>Element strides along K of x, and along N of the residual, dst and the multiplier.</summary>
    public long XColStride, RColStride, DColStride, MColStride;
    public int M, N, K;
    /// <summary>Bytes per row of quantized activations: K rounded up to 32.</summary>
    public int KPad;
    /// <summary>Activation scale groups per row and their size (K for I8: one group).</summary>
    public int Groups, GroupSize;
    /// <summary>Weight format (QuantCodes).</summary>
    public int WType;
    /// <summary>Unary op code applied after the bias (OpCodes), or -1.</summary>
    public int Act;
    /// <summary>1 when a residual is added last.</summary>
    public int HasResidual;
    /// <summary>1 when the activated value is multiplied by a multiplier before the residual.</summary>
    public int HasMultiplier;
}

/// <summary>The quantized matmul family.</summary>
public static class QuantKernels
{
    public const int Threads = 256, Tile = 64, Unit = 32, Stride = 65;

    /// <summary>The activation scale of unit u (32 activations) of row m.</summary>
    private static float ScaleOf(ArrayView<float> d, QMatArgs a, int m, int u) =>
        d[(long)m * a.Groups + (a.Groups == 1 ? 0 : Unit * u / a.GroupSize)];

    [Kernel(BlockX = Threads, Reference = "QuantizedRows.Quantize (src/Tessera.Cpu/Quant/QuantizedRows.cs)")]
    public static void QuantizeActivations(ArrayView<byte> x, StridedLayout xl, QMatArgs a, ArrayView<byte> q, ArrayView<float> d)
    {
        int warps = Group.DimX / Warp.WarpSize, lane = Warp.LaneIdx;
        long total = (long)a.M * a.Groups;
        for (long item = (long)Grid.IdxX * warps + Warp.WarpIdx; item < total; item += (long)Grid.DimX * warps)
        {
            int m = (int)(item / a.Groups), g = (int)(item - (long)m * a.Groups);
            long xr = xl.OffsetOf(m) + (long)g * a.GroupSize * a.XColStride;
            float amax = 0f;
            for (int i = lane; i < a.GroupSize; i += Warp.WarpSize)
                amax = BlockReduce.Max(amax, Math.Abs(ElementIO.LoadF(x, xl.DType, xr + i * a.XColStride)));
            amax = BlockReduce.WarpMax(amax);
            float dd = amax / 127f;
            float id = dd == 0f ? 0f : 1f / dd;
            long qr = (long)m * a.KPad + (long)g * a.GroupSize;
            for (int i = lane; i < a.GroupSize; i += Warp.WarpSize)
            {
                float v = ElementIO.LoadF(x, xl.DType, xr + i * a.XColStride) * id;
                q[qr + i] = (byte)(sbyte)Dequant.RoundEven(v);
            }
            if (g == a.Groups - 1) // the row's padding up to KPad
                for (int i = a.K + lane; i < a.KPad; i += Warp.WarpSize) q[(long)m * a.KPad + i] = 0;
            if (lane == 0) d[item] = dd;
        }
    }

    /// <summary>The epilogue of one output: bias, activation, multiplier, residual, store in dst's dtype.</summary>
    private static void Store(ArrayView<byte> dst, StridedLayout dl, ArrayView<byte> bias, VecArg ba,
        ArrayView<byte> res, StridedLayout rl, ArrayView<byte> mul, StridedLayout ml, QMatArgs a, int m, int n, float v)
    {
        if (m >= a.M || n >= a.N) return;
        if (ba.DType >= 0) v += ba.Load(bias, n);
        if (a.Act >= 0) v = ElementMath.Unary(a.Act, v);
        if (a.HasMultiplier != 0) v *= ElementIO.LoadF(mul, ml.DType, ml.OffsetOf(m) + n * a.MColStride);
        if (a.HasResidual != 0) v += ElementIO.LoadF(res, rl.DType, rl.OffsetOf(m) + n * a.RColStride);
        ElementIO.StoreF(dst, dl.DType, dl.OffsetOf(m) + n * a.DColStride, v);
    }

    [Kernel(BlockX = Threads, Reference = "CpuBackend.QuantizedMatMul; QuantizedMatMulTests.Reference",
        Constants = ["Unit=32", "LanesPerUnit=4", "UnitsPerWarpStep=8"])]
    public static void Gemv(ArrayView<byte> w, ArrayView<byte> scales, VecArg sa, ArrayView<byte> q, ArrayView<float> d,
        QMatArgs a, ArrayView<byte> bias, VecArg ba, ArrayView<byte> res, StridedLayout rl, ArrayView<byte> mul, StridedLayout ml,
        ArrayView<byte> dst, StridedLayout dl)
    {
        int warps = Group.DimX / Warp.WarpSize, lane = Warp.LaneIdx, c = lane & 3;
        bool pairs = a.WType == QuantCodes.Q4_0 || a.WType == QuantCodes.Q4_1;
        int units = a.KPad / Unit, xo0 = Dequant.X0(c, pairs), xo1 = Dequant.X1(c, pairs);
        var qi = q.Cast<int>();
        long total = (long)a.M * a.N;
        for (long item = (long)Grid.IdxX * warps + Warp.WarpIdx; item < total; item += (long)Grid.DimX * warps)
        {
            // Neighbouring warps take neighbouring weight rows for one x row, which stays in L1.
            int m = (int)(item / a.N), n = (int)(item - (long)m * a.N);
            long row = a.WOffset + n * a.RowBytes, qr = (long)m * a.KPad;
            float acc = 0f;
            for (int u = lane >> 2; u < units; u += 8)
            {
                Dequant.Chunk(a.WType, w, row, a.K, u, c, out int w0, out int w1, out float s, out float b);
                long xu = qr + (long)Unit * u;
                int x0 = qi[(xu + xo0) >> 2], x1 = qi[(xu + xo1) >> 2];
                int dot = Dequant.Dp4a(w0, x0, Dequant.Dp4a(w1, x1, 0));
                int sum = Dequant.Dp4a(0x01010101, x0, Dequant.Dp4a(0x01010101, x1, 0));
                float part = s * dot;
                if (b != 0f) part += b * sum;
                acc += ScaleOf(d, a, m, u) * part;
            }
            acc = BlockReduce.WarpSum(acc);
            if (lane == 0)
            {
                if (a.WType == QuantCodes.I8) acc *= sa.Load(scales, n);
                Store(dst, dl, bias, ba, res, rl, mul, ml, a, m, n, acc);
            }
        }
    }

    /// <summary>Writes 4 bytes of a packed int, each times s plus b, into column col of rows r..r+3 of a k-major tile.</summary>
    private static void Put4(ArrayView<float> t, int r, int col, int v, float s, float b)
    {
        int at = r * Stride + col;
        t[at] = s * Dequant.SByteAt(v, 0) + b;
        t[at + Stride] = s * Dequant.SByteAt(v, 1) + b;
        t[at + 2 * Stride] = s * Dequant.SByteAt(v, 2) + b;
        t[at + 3 * Stride] = s * Dequant.SByteAt(v, 3) + b;
    }

    [Kernel(BlockX = Threads, Reference = "CpuBackend.QuantizedMatMul; QuantizedMatMulTests.Reference",
        Constants = ["BM=64", "BN=64", "BK=32", "TM=4", "TN=4", "Threads=256"])]
    public static void Gemm(ArrayView<byte> w, ArrayView<byte> scales, VecArg sa, ArrayView<byte> q, ArrayView<float> d,
        QMatArgs a, ArrayView<byte> bias, VecArg ba, ArrayView<byte> res, StridedLayout rl, ArrayView<byte> mul, StridedLayout ml,
        ArrayView<byte> dst, StridedLayout dl)
    {
        var As = SharedMemory.Allocate<float>(Unit * Stride);
        var Bs = SharedMemory.Allocate<float>(Unit * Stride);
        int tid = Group.IdxX, tx = tid & 15, ty = tid >> 4, lr = tid >> 2, c = tid & 3;
        bool pairs = a.WType == QuantCodes.Q4_0 || a.WType == QuantCodes.Q4_1;
        int units = a.KPad / Unit, xo0 = Dequant.X0(c, pairs), xo1 = Dequant.X1(c, pairs);
        var qi = q.Cast<int>();
        int tilesN = (a.N + Tile - 1) / Tile, tilesM = (a.M + Tile - 1) / Tile;
        long total = (long)tilesM * tilesN;
        for (long t = Grid.IdxX; t < total; t += Grid.DimX)
        {
            int m0 = (int)(t / tilesN) * Tile, n0 = (int)(t % tilesN) * Tile;
            int mx = m0 + lr, nw = n0 + lr;
            float sw = a.WType == QuantCodes.I8 && nw < a.N ? sa.Load(scales, nw) : 1f;
            float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            for (int u = 0; u < units; u++)
            {
                // 8 activations of row mx (chunk c of unit u), as q * dx; rows past M read 0.
                int x0 = 0, x1 = 0;
                float dx = 0f;
                if (mx < a.M)
                {
                    long xu = (long)mx * a.KPad + (long)Unit * u + 8 * c;
                    x0 = qi[xu >> 2];
                    x1 = qi[(xu >> 2) + 1];
                    dx = ScaleOf(d, a, mx, u);
                }
                Put4(As, 8 * c, lr, x0, dx, 0f);
                Put4(As, 8 * c + 4, lr, x1, dx, 0f);
                // 8 weights of row nw (chunk c of unit u), dequantized; rows past N read 0.
                int w0 = 0, w1 = 0;
                float s = 0f, b = 0f;
                if (nw < a.N) Dequant.Chunk(a.WType, w, a.WOffset + nw * a.RowBytes, a.K, u, c, out w0, out w1, out s, out b);
                Put4(Bs, xo0, lr, w0, s * sw, b);
                Put4(Bs, xo1, lr, w1, s * sw, b);
                Group.Barrier();
                for (int kk = 0; kk < Unit; kk++)
                {
                    int row = kk * Stride;
                    float a0 = As[row + ty], a1 = As[row + ty + 16], a2 = As[row + ty + 32], a3 = As[row + ty + 48];
                    float b0 = Bs[row + tx], b1 = Bs[row + tx + 16], b2 = Bs[row + tx + 32], b3 = Bs[row + tx + 48];
                    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
                }
                Group.Barrier();
            }
            int r0 = m0 + ty, q0 = n0 + tx;
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0, q0, c00);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0, q0 + 16, c01);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0, q0 + 32, c02);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0, q0 + 48, c03);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 16, q0, c10);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 16, q0 + 16, c11);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 16, q0 + 32, c12);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 16, q0 + 48, c13);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 32, q0, c20);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 32, q0 + 16, c21);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 32, q0 + 32, c22);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 32, q0 + 48, c23);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 48, q0, c30);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 48, q0 + 16, c31);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 48, q0 + 32, c32);
            Store(dst, dl, bias, ba, res, rl, mul, ml, a, r0 + 48, q0 + 48, c33);
        }
    }
}
