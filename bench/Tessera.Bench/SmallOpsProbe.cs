using System.Diagnostics;
using System.Globalization;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>`peer smallops [--threads T] [--rounds N] [--warmup N]`: the small, memory-sized ops of a CNN such as the PP-OCRv4
/// recogniser (activations, 1x1 and depthwise convolutions, a wide softmax), each timed next to a memory-bound
/// baseline: a plain copy of the same bytes, in the same process, interleaved round by round (the machine is shared
/// and loaded, so only ratios are trusted). Outputs are preallocated, so the times are the backend's alone. One JSON
/// line per op: median microseconds, ns per output element, GB/s of input + output bytes, GFLOP/s where it applies,
/// and the time relative to the copy of the op's input bytes.</summary>
public static unsafe class SmallOpsProbe
{
    private sealed record Op(string Name, long Elements, long Bytes, double Flops, Action Run, Action Copy)
    {
        public readonly List<double> Us = [], CopyUs = [];
    }

    public static int Run(Args args)
    {
        int threads = args.Int("threads", 1), rounds = args.Int("rounds", 31), warmup = args.Int("warmup", 300);
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        var rng = new Random(5);
        var owned = new List<Tensor>();
        Tensor Rand(params int[] dims)
        {
            long n = 1;
            foreach (int d in dims) n *= d;
            var a = new float[n];
            for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 8 - 4);
            var t = Tensor.FromArray(cpu, a, dims);
            owned.Add(t);
            return t;
        }
        Tensor Out(params int[] dims) { var t = Tensor.Zeros(cpu, DType.F32, new Shape(dims)); owned.Add(t); return t; }
        // The baseline: memcpy of `bytes` bytes between two buffers of the probe's own.
        var copySrc = new float[4 << 20];
        var copyDst = new float[4 << 20];
        Action CopyOf(long bytes) => () =>
        {
            fixed (float* s = copySrc) fixed (float* d = copyDst) Buffer.MemoryCopy(s, d, bytes, bytes);
        };

        var ops = new List<Op>();
        int[] act = [1, 16, 48, 160]; // 122,880 floats, as after the recogniser's stem
        long actN = 16 * 48 * 160;
        var xa = Rand(act); var ya = Out(act);
        foreach (var u in new[] { UnaryOp.HardSwish, UnaryOp.Silu, UnaryOp.Sigmoid, UnaryOp.Exp, UnaryOp.Tanh, UnaryOp.Gelu, UnaryOp.Relu })
            ops.Add(new Op(u.ToString().ToLowerInvariant(), actN, actN * 8, 0, () => cpu.Unary(u, xa, ya), CopyOf(actN * 4)));
        ops.Add(new Op("affine", actN, actN * 8, 0, () => cpu.Affine(xa, ya, 1.5, 0.25), CopyOf(actN * 4)));
        var xb = Rand(act);
        ops.Add(new Op("add", actN, actN * 12, 0, () => cpu.Binary(BinaryOp.Add, xa, xb, ya), CopyOf(actN * 4)));

        // Convolutions: (name, C_in, C_out, H, W, k, stride, pad, groups).
        foreach (var (name, ci, co, h, w, k, s, pad, g) in new[]
        {
            ("conv1x1 16->32 24x160", 16, 32, 24, 160, 1, 1, 0, 1),
            ("conv1x1 64->128 12x80", 64, 128, 12, 80, 1, 1, 0, 1),
            ("conv1x1 256->512 6x40", 256, 512, 6, 40, 1, 1, 0, 1),
            ("dw3x3 s1 32 24x160", 32, 32, 24, 160, 3, 1, 1, 32),
            ("dw3x3 s2 32 24x160", 32, 32, 24, 160, 3, 2, 1, 32),
            ("dw3x3 s1 128 12x80", 128, 128, 12, 80, 3, 1, 1, 128),
            ("dw5x5 s1 256 6x40", 256, 256, 6, 40, 5, 1, 2, 256),
        })
        {
            var p = new Conv2dParams(s, s, pad, pad, 1, 1, g);
            int oh = Conv2dParams.OutputSize(h, k, s, pad, 1), ow = Conv2dParams.OutputSize(w, k, s, pad, 1);
            var x = Rand(1, ci, h, w); var wt = Rand(co, ci / g, k, k); var bias = Rand(co); var y = Out(1, co, oh, ow);
            long outN = (long)co * oh * ow;
            double flops = 2.0 * outN * (ci / g) * k * k;
            long inBytes = (long)ci * h * w * 4;
            ops.Add(new Op(name, outN, inBytes + outN * 4, flops, () => cpu.Conv2d(x, wt, bias, p, y), CopyOf(inBytes)));
            cpu.Conv2d(x, wt, bias, p, y);
            double err = MaxConvError(x.ToFloatArray(), wt.ToFloatArray(), bias.ToFloatArray(), y.ToFloatArray(), ci, co, h, w, k, s, pad, g, oh, ow);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"check\":\"{name}\",\"max_rel_err\":{err:E2}}}"));
            if (err > 1e-4) throw new InvalidOperationException($"{name}: result differs from the naive convolution by {err}");
        }

        ReportUlps(cpu);
        var logits = Rand(40, 6625); var probs = Out(40, 6625);
        ops.Add(new Op("softmax 40x6625", 40 * 6625, 40 * 6625 * 8L, 0, () => cpu.Softmax(logits, null, 1f, probs), CopyOf(40 * 6625 * 4L)));

        // Steady state: enough calls for tiered compilation to finish (--warmup 5 shows the cold-start costs instead).
        for (int i = 0; i < warmup; i++) foreach (var op in ops) { op.Run(); op.Copy(); }
        var sw = new Stopwatch();
        for (int r = 0; r < rounds; r++)
            foreach (var op in ops)
            {
                sw.Restart(); op.Copy(); op.CopyUs.Add(sw.Elapsed.TotalMicroseconds);
                sw.Restart(); op.Run(); op.Us.Add(sw.Elapsed.TotalMicroseconds);
            }

        var ci0 = CultureInfo.InvariantCulture;
        foreach (var op in ops)
        {
            double us = Median(op.Us), copy = Median(op.CopyUs);
            Console.WriteLine(string.Create(ci0,
                $"{{\"op\":\"{op.Name}\",\"threads\":{threads},\"us\":{us:F1},\"ns_per_elem\":{us * 1000 / op.Elements:F3},\"gb_s\":{op.Bytes / (us * 1000):F2},\"gflop_s\":{op.Flops / (us * 1000):F2},\"copy_us\":{copy:F1},\"over_copy\":{us / copy:F2}}}"));
        }
        foreach (var t in owned) t.Dispose();
        return 0;
    }

    // Largest |y - ref| / (1 + |ref|) against a naive double convolution (the wide rows here reach the vector paths
    // that the unit tests' small images do not).
    private static double MaxConvError(float[] x, float[] wt, float[] bias, float[] y, int ci, int co, int h, int w, int k, int s, int pad, int g, int oh, int ow)
    {
        int cg = ci / g, og = co / g;
        double worst = 0;
        for (int oc = 0; oc < co; oc++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double acc = bias[oc];
                    for (int c = 0; c < cg; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                            {
                                int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                                if ((uint)iy < (uint)h && (uint)ix < (uint)w)
                                    acc += (double)wt[((oc * cg) + c) * k * k + ky * k + kx] * x[((oc / og * cg + c) * h + iy) * w + ix];
                            }
                    worst = Math.Max(worst, Math.Abs(y[(oc * oh + oy) * ow + ox] - acc) / (1 + Math.Abs(acc)));
                }
        return worst;
    }

    // Largest error in units of the f32 result's last place against double math, over a dense sweep of inputs.
    private static void ReportUlps(CpuBackend cpu)
    {
        const int n = 1 << 20;
        var xs = new float[n];
        for (int i = 0; i < n; i++) xs[i] = -80f + 160f * i / n; // intermediates e^x stay normal floats
        using var x = Tensor.FromArray(cpu, xs, n);
        using var y = Tensor.Zeros(cpu, DType.F32, new Shape(n));
        foreach (var (op, f) in new (UnaryOp, Func<double, double>)[]
        {
            (UnaryOp.Exp, Math.Exp), (UnaryOp.Sigmoid, v => 1 / (1 + Math.Exp(-v))), (UnaryOp.Silu, v => v / (1 + Math.Exp(-v))),
            (UnaryOp.Tanh, Math.Tanh), (UnaryOp.HardSwish, v => v * Math.Clamp(v + 3, 0, 6) / 6),
        })
        {
            cpu.Unary(op, x, y);
            var r = y.ToFloatArray();
            double worst = 0;
            for (int i = 0; i < n; i++)
            {
                double e = f(xs[i]);
                if (Math.Abs(e) < 1e-37 || Math.Abs(e) > 3e38) continue; // subnormal or overflowing results
                double ulp = MathF.BitIncrement((float)Math.Abs(e)) - (float)Math.Abs(e);
                worst = Math.Max(worst, Math.Abs(r[i] - e) / ulp);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"accuracy\":\"{op}\",\"max_ulp\":{worst:F2}}}"));
        }
    }

    private static double Median(List<double> v)
    {
        v.Sort();
        return v[v.Count / 2];
    }
}
