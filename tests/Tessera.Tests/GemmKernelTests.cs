using Tessera.Cpu;
using Tessera.Cpu.Gemm;

namespace Tessera.Tests;

/// <summary>The packed GEMM's edge cases against a double-accumulation reference: every remainder of the register
/// tile, K past the K block, transposed and broadcast operands, each epilogue, f16/bf16 inputs, threads.</summary>
public unsafe class GemmKernelTests
{
    private const double F32Tol = 1e-7;

    private static float[] Rand(int count, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return v;
    }

    /// <summary>mse(got, want) / mse(want, 0), the ggml rule.</summary>
    private static double Nmse(float[] got, double[] want) => Tessera.Tests.Reference.Nmse.Of(want, got);

    private static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 3)
        {
            // Maclaurin series; at |x| < 3 the terms stay under e^9, well inside double precision.
            double sum = 0, term = x;
            for (int n = 0; n < 200; n++)
            {
                sum += term / (2 * n + 1);
                term *= -x * x / (n + 1);
                if (Math.Abs(term) < 1e-17 * Math.Abs(sum)) break;
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc by its continued fraction, evaluated backwards.
        double f = 0;
        for (int i = 60; i >= 1; i--) f = i / 2.0 / (ax + f);
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / (ax + f);
        return Math.Sign(x) * (1 - erfc);
    }

    /// <summary>Phi(v), through erfc in the far negative tail where 1 + erf(x) would round to 0.</summary>
    private static double NormalCdf(double v)
    {
        double z = v / Math.Sqrt(2);
        if (z > -3) return 0.5 * (1 + Erf(z));
        double f = 0;
        for (int i = 60; i >= 1; i--) f = i / 2.0 / (-z + f);
        return 0.5 * Math.Exp(-z * z) / Math.Sqrt(Math.PI) / (-z + f);
    }

    private static double Act(double v, Activation act) => act switch
    {
        Activation.None => v,
        Activation.Relu => Math.Max(v, 0),
        Activation.HardSwish => v * Math.Clamp(v + 3, 0, 6) / 6,
        Activation.Silu => v / (1 + Math.Exp(-v)),
        Activation.QuickGelu => v / (1 + Math.Exp(-1.702 * v)),
        // 0.5 v (1 + tanh y) written as v / (1 + exp(-2y)), which does not cancel to 0 in double for v << 0.
        Activation.GeluTanh => v / (1 + Math.Exp(-2 * Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))),
        Activation.Gelu => v * NormalCdf(v),
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };

    /// <summary>act(a @ b + bias) + res over row-major arrays, in double.</summary>
    private static double[] Reference(float[] a, float[] b, int m, int n, int k, float[]? bias = null,
        Activation act = Activation.None, float[]? res = null)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
                if (bias != null) s += bias[j];
                s = Act(s, act);
                if (res != null) s += res[i * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    private static float[] RunSgemm(float[] a, float[] b, int m, int n, int k, int threads, bool transA = false, bool transB = false)
    {
        // Transposed operands are stored transposed and read through swapped strides.
        float[] aStore = transA ? Transpose(a, m, k) : a, bStore = transB ? Transpose(b, k, n) : b;
        var c = new float[m * n];
        fixed (float* ap = aStore, bp = bStore, cp = c)
        {
            var ga = transA ? new GemmOperand(ap, DType.F32, 1, m) : new GemmOperand(ap, DType.F32, k, 1);
            var gb = transB ? new GemmOperand(bp, DType.F32, 1, k) : new GemmOperand(bp, DType.F32, n, 1);
            Sgemm.Multiply(m, n, k, ga, gb, cp, n, GemmEpilogue.None, threads);
        }
        return c;
    }

    private static float[] Transpose(float[] x, int rows, int cols)
    {
        var t = new float[x.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
        return t;
    }

    public static TheoryData<int, int, int> EdgeShapes()
    {
        var d = new TheoryData<int, int, int>();
        int[] ms = [1, 2, 3, 7, 11, 12, 13, 17, 23, 25, 31, 33, 65, 129, 241];
        int[] ns = [1, 2, 3, 15, 16, 17, 31, 32, 33, 47, 65, 129, 513, 530];
        int[] ks = [1, 2, 3, 17, 255, 256, 257, 600];
        int i = 0;
        foreach (int m in ms)
            foreach (int n in ns)
            {
                // Every (m, n) pair, with k cycling through the list so each k meets many shapes.
                int k = ks[i++ % ks.Length];
                if ((long)m * n * k <= 4_000_000) d.Add(m, n, k);
            }
        return d;
    }

    [Theory]
    [MemberData(nameof(EdgeShapes))]
    public void EveryTileRemainder(int m, int n, int k)
    {
        var a = Rand(m * k, m * 1000 + n);
        var b = Rand(k * n, k * 7 + 3);
        Assert.True(Nmse(RunSgemm(a, b, m, n, k, 1), Reference(a, b, m, n, k)) < F32Tol);
    }

    [Theory]
    [InlineData(1, 77, 300)]
    [InlineData(37, 45, 513)]
    [InlineData(130, 70, 257)]
    [InlineData(13, 1, 40)]
    public void TransposedOperandsAndThreads(int m, int n, int k)
    {
        var a = Rand(m * k, 1);
        var b = Rand(k * n, 2);
        var want = Reference(a, b, m, n, k);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (int threads in new[] { 1, 2, 3 })
                    Assert.True(Nmse(RunSgemm(a, b, m, n, k, threads, ta, tb), want) < F32Tol, $"ta={ta} tb={tb} threads={threads}");
    }

    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Silu)]
    [InlineData(Activation.QuickGelu)]
    [InlineData(Activation.GeluTanh)]
    [InlineData(Activation.Gelu)]
    public void EpilogueThroughMatMul(Activation act)
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        foreach (var (m, n, k) in new[] { (1, 70, 50), (29, 67, 300), (64, 96, 64) })
        {
            var a = Rand(m * k, 5, 2f);
            var b = Rand(k * n, 6, 0.5f);
            var bias = Rand(n, 7);
            var res = Rand(m * n, 8);
            using var ta = Tensor.FromArray(cpu, a, m, k);
            using var tb = Tensor.FromArray(cpu, b, k, n);
            using var tbias = Tensor.FromArray(cpu, bias, n);
            using var tres = Tensor.FromArray(cpu, res, m, n);
            using var y = ta.MatMul(tb, new MatMulEpilogue(tbias, act, tres));
            Assert.True(Nmse(y.ToFloatArray(), Reference(a, b, m, n, k, bias, act, res)) < F32Tol, $"{act} {m}x{n}x{k}");
        }
    }

    [Fact]
    public void ActivationsAccurateOverWideRange()
    {
        // The vectorised erf-GELU and friends, element by element (relative error), through a k = 1 product.
        int n = 2001;
        var xs = new float[n];
        for (int i = 0; i < n; i++) xs[i] = -12f + 24f * i / (n - 1);
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var one = Tensor.FromArray(cpu, new float[] { 1f }, 1, 1);
        using var row = Tensor.FromArray(cpu, xs, 1, n);
        foreach (var act in new[] { Activation.Gelu, Activation.GeluTanh, Activation.Silu, Activation.QuickGelu })
        {
            using var y = one.MatMul(row, new MatMulEpilogue(null, act));
            var got = y.ToFloatArray();
            for (int i = 0; i < n; i++)
            {
                double want = Act(xs[i], act);
                // 1e-6 relative near 0; further out a float exp argument of size 10-60 carries ulp = 1e-6 to 4e-6 by itself.
                double tol = (Math.Abs(xs[i]) <= 3 ? 1e-6 : 1e-5) * Math.Abs(want) + 1e-30;
                Assert.True(Math.Abs(got[i] - want) <= tol, $"{act}({xs[i]}) = {got[i]}, want {want}");
            }
        }
    }

    [Fact]
    public void BatchedWithBroadcastAndTransposedViews()
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        int batch = 5, m = 19, k = 33, n = 41;
        var a = Rand(batch * m * k, 11);
        var bt = Rand(n * k, 12); // one weight [N, K], used transposed and broadcast over the batch
        var resRow = Rand(n, 13);
        using var ta = Tensor.FromArray(cpu, a, batch, m, k);
        using var tw = Tensor.FromArray(cpu, bt, n, k);
        using var tb = tw.T;
        using var tres = Tensor.FromArray(cpu, resRow, n);
        using var y = ta.MatMul(tb, new MatMulEpilogue(null, Activation.None, tres));
        var b = Transpose(bt, n, k);
        var want = new double[batch * m * n];
        var res = new float[m * n];
        for (int i = 0; i < m; i++) Array.Copy(resRow, 0, res, i * n, n);
        for (int s = 0; s < batch; s++)
            Array.Copy(Reference(a[(s * m * k)..((s + 1) * m * k)], b, m, n, k, res: res), 0, want, s * m * n, m * n);
        Assert.True(Nmse(y.ToFloatArray(), want) < F32Tol);
    }

    [Fact]
    public void ManySmallBatchEntriesLikeAttentionHeads()
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        int h = 12, s = 37, d = 16;
        var q = Rand(h * s * d, 21);
        var kk = Rand(h * s * d, 22);
        using var tq = Tensor.FromArray(cpu, q, h, s, d);
        using var tk = Tensor.FromArray(cpu, kk, h, s, d);
        using var tkt = tk.Transpose(-1, -2);
        using var y = tq.MatMul(tkt);
        var want = new double[h * s * s];
        for (int i = 0; i < h; i++)
        {
            var kt = Transpose(kk[(i * s * d)..((i + 1) * s * d)], s, d);
            Array.Copy(Reference(q[(i * s * d)..((i + 1) * s * d)], kt, s, s, d), 0, want, i * s * s, s * s);
        }
        Assert.True(Nmse(y.ToFloatArray(), want) < F32Tol);
    }

    [Theory]
    [InlineData(DType.BF16, 1, 300, 70)]
    [InlineData(DType.BF16, 27, 65, 300)]
    [InlineData(DType.F16, 1, 300, 70)]
    [InlineData(DType.F16, 27, 65, 300)]
    public void HalfPrecisionInputs(DType dtype, int m, int n, int k)
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        var a = Rand(m * k, 31);
        var b = Rand(k * n, 32);
        using var ta32 = Tensor.FromArray(cpu, a, m, k);
        using var tb32 = Tensor.FromArray(cpu, b, k, n);
        using var ta = ta32.To(dtype);
        using var tb = tb32.To(dtype);
        // Reference from the rounded inputs, so only the product's own error is measured.
        var ar = ta.ToFloatArray();
        var br = tb.ToFloatArray();
        var want = Reference(ar, br, m, n, k);
        using (var y = ta.MatMul(tb))
        {
            Assert.Equal(dtype, y.DType);
            // The result is rounded to the half type: allow its rounding error.
            Assert.True(Nmse(y.ToFloatArray(), want) < (dtype == DType.BF16 ? 1e-4 : 1e-6));
        }
        // f32 activations @ half weights (the mixed case): f32 out.
        var wantMixed = Reference(a, br, m, n, k);
        using (var y = ta32.MatMul(tb))
        {
            Assert.Equal(DType.F32, y.DType);
            Assert.True(Nmse(y.ToFloatArray(), wantMixed) < F32Tol);
        }
        // Transposed half weights: [N, K] stored, used as .T (the GEMV dot path for m = 1).
        using var tbt = tb.T.Contiguous();
        using var tbtT = tbt.T;
        using (var y = ta32.MatMul(tbtT))
            Assert.True(Nmse(y.ToFloatArray(), wantMixed) < F32Tol);
    }

    [Theory]
    [InlineData(1, 700, 513)]
    [InlineData(20, 100, 300)]
    public void PrePackedB(int m, int n, int k)
    {
        var a = Rand(m * k, 41);
        var b = Rand(k * n, 42);
        var want = Reference(a, b, m, n, k);
        var c = new float[m * n];
        fixed (float* ap = a, bp = b, cp = c)
        {
            var gb = new GemmOperand(bp, DType.F32, n, 1);
            using var packed = new PackedB(k, n, gb);
            var ga = new GemmOperand(ap, DType.F32, k, 1);
            foreach (int threads in new[] { 1, 2 })
            {
                Array.Clear(c);
                Sgemm.Multiply(m, n, k, ga, gb, packed, cp, n, GemmEpilogue.None, threads);
                Assert.True(Nmse(c, want) < F32Tol, $"threads={threads}");
            }
        }
    }

    /// <summary>Past every blocking size at once: A taller than one packed band (4 MB), more rows than one L2 block of C,
    /// N over two column blocks, K over several K blocks with a remainder; plain, transposed and pre-packed B, 1-2 threads.</summary>
    [Fact]
    public void BandsAndBlocksBeyondOneOfEach()
    {
        int m = 1100, n = 600, k = 1000;
        var a = Rand(m * k, 51);
        var b = Rand(k * n, 52);
        var bias = Rand(n, 53);
        var want = Reference(a, b, m, n, k, bias);
        var bt = Transpose(b, k, n);
        var c = new float[m * n];
        fixed (float* ap = a, bp = b, btp = bt, cp = c, biasp = bias)
        {
            var ga = new GemmOperand(ap, DType.F32, k, 1);
            var gb = new GemmOperand(bp, DType.F32, n, 1);
            var gbt = new GemmOperand(btp, DType.F32, 1, k);
            var ep = new GemmEpilogue(biasp, Activation.None, null, 0, 0);
            using var packed = new PackedB(k, n, gb);
            foreach (int threads in new[] { 1, 2 })
            {
                foreach (var (name, op, pk) in new[] { ("plain", gb, (PackedB?)null), ("transposed", gbt, null), ("packed", gb, packed) })
                {
                    Array.Clear(c);
                    Sgemm.Multiply(m, n, k, ga, op, pk, cp, n, ep, threads);
                    Assert.True(Nmse(c, want) < F32Tol, $"{name} threads={threads}");
                }
            }
        }
    }

    [Fact]
    public void KZeroGivesEpilogueOfZero()
    {
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        using var a = Tensor.Zeros(cpu, DType.F32, new Shape(3, 0));
        using var b = Tensor.Zeros(cpu, DType.F32, new Shape(0, 4));
        using var bias = Tensor.FromArray(cpu, new float[] { 1, -2, 3, -4 }, 4);
        using var y = a.MatMul(b, new MatMulEpilogue(bias, Activation.Relu));
        Assert.Equal(new float[] { 1, 0, 3, 0, 1, 0, 3, 0, 1, 0, 3, 0 }, y.ToFloatArray());
    }
}
