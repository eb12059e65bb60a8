using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>The element-wise kernels on the CPU accelerator at tiny shapes, against naive double references.
/// Grids are deliberately smaller than the element count, so the grid-stride loops wrap.</summary>
public sealed class ElementwiseKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    private static readonly Type K = typeof(ElementwiseKernels);

    public void Dispose() => _h.Dispose();

    private static float[] Values(int n, float lo, float hi, int seed)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(lo + (hi - lo) * r.NextDouble()))];
    }

    private static double Erf(double x)
    {
        // Abramowitz-Stegun 7.1.26 is too coarse for a reference; integrate the series to double precision.
        double sum = 0, term = x, x2 = x * x;
        for (int n = 0; n < 200; n++) { sum += term / (2 * n + 1); term *= -x2 / (n + 1); }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    private static double Sig(double x) => 1 / (1 + Math.Exp(-x));

    private static double RefUnary(int op, double x) => op switch
    {
        OpCodes.Neg => -x, OpCodes.Abs => Math.Abs(x), OpCodes.Exp => Math.Exp(x), OpCodes.Log => Math.Log(x),
        OpCodes.Sqrt => Math.Sqrt(x), OpCodes.Rsqrt => 1 / Math.Sqrt(x), OpCodes.Square => x * x, OpCodes.Tanh => Math.Tanh(x),
        OpCodes.Sigmoid => Sig(x), OpCodes.Relu => Math.Max(x, 0), OpCodes.Gelu => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
        OpCodes.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        OpCodes.QuickGelu => x * Sig(1.702 * x), OpCodes.Silu => x * Sig(x),
        OpCodes.HardSwish => x * Math.Clamp(x + 3, 0, 6) / 6, OpCodes.HardSigmoid => Math.Clamp(x + 3, 0, 6) / 6,
        OpCodes.Sin => Math.Sin(x), OpCodes.Cos => Math.Cos(x),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static double RefBinary(int op, double a, double b) => op switch
    {
        OpCodes.Add => a + b, OpCodes.Sub => a - b, OpCodes.Mul => a * b, OpCodes.Div => a / b,
        OpCodes.Max => Math.Max(a, b), OpCodes.Min => Math.Min(a, b), _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>A layout for the strided kernels: dims and strides right-aligned into six slots.</summary>
    internal static StridedLayout Layout(int dtype, long offset, int[] dims, long[] strides)
    {
        var d = new int[6]; var s = new long[6];
        Array.Fill(d, 1);
        for (int i = 0; i < dims.Length; i++) { d[6 - dims.Length + i] = dims[i]; s[6 - dims.Length + i] = strides[i]; }
        return new StridedLayout
        {
            Offset = offset, DType = dtype, Rank = dims.Length,
            D0 = d[0], D1 = d[1], D2 = d[2], D3 = d[3], D4 = d[4], D5 = d[5],
            S0 = s[0], S1 = s[1], S2 = s[2], S3 = s[3], S4 = s[4], S5 = s[5],
        };
    }

    [Fact]
    public void FillF32_covers_every_element_with_a_small_grid()
    {
        using var d = _h.Zeros<float>(53);
        _h.Launch(K, nameof(ElementwiseKernels.FillF32), grid: 2, group: 8, d.View, 50L, 2.5f);
        var r = _h.Download(d);
        Assert.All(r[..50], v => Assert.Equal(2.5f, v));
        Assert.All(r[50..], v => Assert.Equal(0f, v)); // n bounds the loop, not the buffer
    }

    [Theory]
    [InlineData(OpCodes.Neg)] [InlineData(OpCodes.Abs)] [InlineData(OpCodes.Exp)] [InlineData(OpCodes.Log)]
    [InlineData(OpCodes.Sqrt)] [InlineData(OpCodes.Rsqrt)] [InlineData(OpCodes.Square)] [InlineData(OpCodes.Tanh)]
    [InlineData(OpCodes.Sigmoid)] [InlineData(OpCodes.Relu)] [InlineData(OpCodes.Gelu)] [InlineData(OpCodes.GeluTanh)]
    [InlineData(OpCodes.QuickGelu)] [InlineData(OpCodes.Silu)] [InlineData(OpCodes.HardSwish)] [InlineData(OpCodes.HardSigmoid)]
    [InlineData(OpCodes.Sin)] [InlineData(OpCodes.Cos)]
    public void UnaryF32_matches_the_reference(int op)
    {
        bool positive = op is OpCodes.Log or OpCodes.Sqrt or OpCodes.Rsqrt;
        var x = Values(61, positive ? 0.05f : -4f, 4f, op);
        using var bx = _h.Upload(x);
        using var bd = _h.Zeros<float>(x.Length);
        _h.Launch(K, nameof(ElementwiseKernels.UnaryF32), grid: 3, group: 16, bx.View, bd.View, (long)x.Length, op);
        AssertClose([.. x.Select(v => RefUnary(op, v))], _h.Download(bd));
    }

    [Theory]
    [InlineData(OpCodes.Add)] [InlineData(OpCodes.Sub)] [InlineData(OpCodes.Mul)] [InlineData(OpCodes.Div)]
    [InlineData(OpCodes.Max)] [InlineData(OpCodes.Min)]
    public void BinaryF32_matches_the_reference(int op)
    {
        var a = Values(45, -3f, 3f, 1); var b = Values(45, 0.5f, 2f, 2);
        using var ba = _h.Upload(a); using var bb = _h.Upload(b); using var bd = _h.Zeros<float>(45);
        _h.Launch(K, nameof(ElementwiseKernels.BinaryF32), grid: 2, group: 8, ba.View, bb.View, bd.View, 45L, op);
        AssertClose([.. a.Select((v, i) => RefBinary(op, v, b[i]))], _h.Download(bd));
    }

    [Fact]
    public void AffineF32_matches_the_reference()
    {
        var x = Values(33, -5f, 5f, 3);
        using var bx = _h.Upload(x); using var bd = _h.Zeros<float>(33);
        _h.Launch(K, nameof(ElementwiseKernels.AffineF32), grid: 1, group: 32, bx.View, bd.View, 33L, 0.25f, -1.5f);
        AssertClose([.. x.Select(v => v * 0.25 - 1.5)], _h.Download(bd));
    }

    private MemoryBuffer1D<byte, Stride1D.Dense> Bytes<T>(T[] data) where T : unmanaged =>
        _h.Upload(MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    [Fact]
    public void BinaryStrided_reads_a_transposed_operand_and_a_broadcast_row()
    {
        // a: [3, 5] transposed view of a [5, 3] buffer (strides 1, 3) starting at element 2;
        // b: [5] broadcast over 3 rows (stride 0 on the row axis); dst: [3, 5] contiguous.
        var aBuf = Values(17, -2f, 2f, 4); var b = Values(5, -1f, 1f, 5);
        using var ba = Bytes(aBuf); using var bb = Bytes(b); using var bd = _h.Zeros<byte>(15 * 4);
        var al = Layout(ElementCodes.F32, 2, [3, 5], [1, 3]);
        var bl = Layout(ElementCodes.F32, 0, [3, 5], [0, 1]);
        var dl = Layout(ElementCodes.F32, 0, [3, 5], [5, 1]);
        _h.Launch(K, nameof(ElementwiseKernels.BinaryStrided), grid: 2, group: 4,
            ba.View, al, bb.View, bl, bd.View, dl, 15L, OpCodes.Mul);
        var got = MemoryMarshal.Cast<byte, float>(_h.Download(bd)).ToArray();
        var want = new double[15];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 5; j++) want[i * 5 + j] = (double)aBuf[2 + i + 3 * j] * b[j];
        AssertClose(want, got);
    }

    [Fact]
    public void CopyStrided_converts_f32_to_bf16_and_f16_with_round_to_nearest_even()
    {
        var x = Values(40, -100f, 100f, 6);
        x[0] = 1.00390625f; // exactly half-way between two bf16 values: rounds to even (1.0)
        using var bx = Bytes(x); using var bb = _h.Zeros<byte>(80); using var bh = _h.Zeros<byte>(80);
        var src = Layout(ElementCodes.F32, 0, [40], [1]);
        _h.Launch(K, nameof(ElementwiseKernels.CopyStrided), grid: 2, group: 8, bx.View, src, bb.View, Layout(ElementCodes.BF16, 0, [40], [1]), 40L);
        _h.Launch(K, nameof(ElementwiseKernels.CopyStrided), grid: 2, group: 8, bx.View, src, bh.View, Layout(ElementCodes.F16, 0, [40], [1]), 40L);
        var bf = MemoryMarshal.Cast<byte, ushort>(_h.Download(bb)).ToArray();
        var hf = MemoryMarshal.Cast<byte, System.Half>(_h.Download(bh)).ToArray();
        for (int i = 0; i < 40; i++)
        {
            uint u = BitConverter.SingleToUInt32Bits(x[i]);
            ushort want = (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
            Assert.Equal(want, bf[i]);
            // ILGPU's CPU accelerator converts to its software Half without round-to-nearest-even; the PTX uses
            // cvt.rn.f16.f32 (exact RNE, checked on the GPU by Tessera.Cuda.Tests). Here: within one f16 ulp.
            short diff = (short)(BitConverter.HalfToInt16Bits((System.Half)x[i]) - BitConverter.HalfToInt16Bits(hf[i]));
            Assert.InRange(diff, (short)-1, (short)1);
        }
        Assert.Equal(0x3F80, bf[0]);
    }

    [Fact]
    public void CopyStrided_converts_integers_and_copies_same_dtype_bits_through_strides()
    {
        int[] ints = [.. Enumerable.Range(-10, 24).Select(v => v * 1000003)];
        using var bi = Bytes(ints); using var bf = _h.Zeros<byte>(24 * 4); using var bt = _h.Zeros<byte>(24 * 4);
        _h.Launch(K, nameof(ElementwiseKernels.CopyStrided), grid: 1, group: 8,
            bi.View, Layout(ElementCodes.I32, 0, [24], [1]), bf.View, Layout(ElementCodes.F32, 0, [24], [1]), 24L);
        Assert.Equal(ints.Select(v => (float)v), MemoryMarshal.Cast<byte, float>(_h.Download(bf)).ToArray());
        // transpose [4, 6] -> [6, 4] as a same-dtype strided copy
        _h.Launch(K, nameof(ElementwiseKernels.CopyStrided), grid: 1, group: 8,
            bi.View, Layout(ElementCodes.I32, 0, [6, 4], [1, 6]), bt.View, Layout(ElementCodes.I32, 0, [6, 4], [4, 1]), 24L);
        var t = MemoryMarshal.Cast<byte, int>(_h.Download(bt)).ToArray();
        for (int i = 0; i < 6; i++) for (int j = 0; j < 4; j++) Assert.Equal(ints[j * 6 + i], t[i * 4 + j]);
    }

    [Fact]
    public void CopyStrided_expands_stride_0_axes_as_nearest_upsampling_does()
    {
        // IBackend.UpsampleNearest's default body (what CUDA runs for the VAE decoders): x [B, C, H, 1, W, 1] broadcast
        // to [B, C, H, sH, W, sW] (stride 0 on the repeat axes) and copied into the contiguous output, here by 2 x 3.
        const int b = 2, c = 3, h = 3, w = 5, sh = 2, sw = 3;
        var x = Values(b * c * h * w, -3f, 3f, 11);
        using var bx = Bytes(x); using var bd = _h.Zeros<byte>(x.Length * sh * sw * 4);
        int[] dims = [b, c, h, sh, w, sw];
        _h.Launch(K, nameof(ElementwiseKernels.CopyStrided), grid: 2, group: 32,
            bx.View, Layout(ElementCodes.F32, 0, dims, [c * h * w, h * w, w, 0, 1, 0]),
            bd.View, Layout(ElementCodes.F32, 0, dims, [c * h * sh * w * sw, h * sh * w * sw, sh * w * sw, w * sw, sw, 1]), (long)x.Length * sh * sw);
        var got = MemoryMarshal.Cast<byte, float>(_h.Download(bd)).ToArray();
        for (int p = 0; p < b * c; p++) for (int y = 0; y < h * sh; y++) for (int i = 0; i < w * sw; i++)
            Assert.Equal(x[(p * h + y / sh) * w + i / sw], got[(p * h * sh + y) * w * sw + i]);
    }

    [Fact]
    public void FillStrided_writes_only_the_view()
    {
        // every other column of a [4, 6] f16 buffer
        using var bd = _h.Zeros<byte>(24 * 2);
        _h.Launch(K, nameof(ElementwiseKernels.FillStrided), grid: 1, group: 4, bd.View, Layout(ElementCodes.F16, 1, [4, 3], [6, 2]), 12L, -0.75);
        var h = MemoryMarshal.Cast<byte, System.Half>(_h.Download(bd)).ToArray();
        for (int i = 0; i < 24; i++) Assert.Equal(i % 2 == 1 ? (System.Half)(-0.75f) : System.Half.Zero, h[i]);
    }

    [Fact]
    public void UnaryStrided_and_AffineStrided_read_bf16_and_write_f32()
    {
        var x = Values(20, -3f, 3f, 7);
        ushort[] bits = [.. x.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16))];
        double[] xs = [.. bits.Select(b => (double)BitConverter.UInt32BitsToSingle((uint)b << 16))];
        using var bx = Bytes(bits); using var bd = _h.Zeros<byte>(20 * 4);
        var xl = Layout(ElementCodes.BF16, 0, [20], [1]); var dl = Layout(ElementCodes.F32, 0, [20], [1]);
        _h.Launch(K, nameof(ElementwiseKernels.UnaryStrided), grid: 1, group: 8, bx.View, xl, bd.View, dl, 20L, OpCodes.Silu);
        AssertClose([.. xs.Select(v => RefUnary(OpCodes.Silu, v))], MemoryMarshal.Cast<byte, float>(_h.Download(bd)).ToArray());
        _h.Launch(K, nameof(ElementwiseKernels.AffineStrided), grid: 1, group: 8, bx.View, xl, bd.View, dl, 20L, 2f, 1f);
        AssertClose([.. xs.Select(v => v * 2 + 1)], MemoryMarshal.Cast<byte, float>(_h.Download(bd)).ToArray());
    }

    [Theory]
    [InlineData(OpCodes.Sin)] [InlineData(OpCodes.Cos)]
    public void Sin_and_cos_of_large_angles_are_reduced_exactly(int op)
    {
        // RoPE tables and timestep embeddings feed thousands of radians; the kernel reduces them by 2 pi in double
        // before the (on the GPU, approximate) sine, so the error stays that of [-pi, pi].
        var x = Values(47, -5000f, 5000f, 8);
        x[0] = 4096f; x[1] = -1e6f; x[2] = 0f; x[3] = MathF.PI;
        using var bx = _h.Upload(x);
        using var bd = _h.Zeros<float>(x.Length);
        _h.Launch(K, nameof(ElementwiseKernels.UnaryF32), grid: 2, group: 16, bx.View, bd.View, (long)x.Length, op);
        var got = _h.Download(bd);
        AssertClose([.. x.Select(v => RefUnary(op, v))], got);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(RefUnary(op, x[i]) - got[i]) < 1e-6, $"x = {x[i]}: {got[i]}");
    }
}
