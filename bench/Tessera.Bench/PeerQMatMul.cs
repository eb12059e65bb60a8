using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using Microsoft.ML.OnnxRuntime;
using Tessera.Bench.Onnx;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>`peer qmatmul --type int8|q8_0|q4_0|q4_1|q4_k|q6_k --m M --k K --n N [--threads T] [--rounds R] [--settle-ms MS]`: Tessera's
/// Linear with a quantized (constant) weight [N, K], interleaved in one process with: ONNX Runtime's
/// DynamicQuantizeMatMul (int8 only: A quantized per run, B int8 [K, N] with per-column scales), ONNX Runtime's f32
/// MatMul on the same shape, and a plain streaming read of a buffer as large as the quantized weight (the ceiling
/// for decode shapes); for Q8_0/Q4_0 also Tessera on the same weight not declared constant (read in place by the row
/// kernels, where the constant one runs on 16-row panels). One JSON line per engine (GOP/s, GB/s of weight bytes), then one with the ratios.</summary>
public static class PeerQMatMul
{
    private sealed record Engine(string Name, Action Run)
    {
        public List<double> Ms { get; } = [];
    }

    public static int Run(Args args)
    {
        string type = args.Str("type", "int8");
        int m = args.Int("m", 197), k = args.Int("k", 768), n = args.Int("n", 3072), threads = args.Int("threads", 1);
        int rounds = args.Int("rounds", 7);
        var rng = new Random(1);
        var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
        var x = Rand(rng, m * k, 1f);
        using var tx = Tensor.FromArray(cpu, x, m, k);
        var disposables = new List<IDisposable>();
        var engines = new List<Engine>();

        Tensor w, scales = null!;
        Tensor? inPlace = null;
        sbyte[]? i8 = null;
        float[]? i8Scales = null;
        if (type == "int8")
        {
            (i8, i8Scales) = QuantizeRows(Rand(rng, n * k, 1f), n, k);
            using var raw = Tensor.FromArray(cpu, i8, n, k);
            w = raw.AsConstant();
            scales = Tensor.FromArray(cpu, i8Scales, n);
            disposables.Add(scales);
        }
        else
        {
            var dt = DTypeInfo.Parse(type);
            var blocks = RandomBlocks(rng, dt, (long)n * k);
            using var raw = Tensor.FromArray(cpu, blocks, blocks.Length);
            using var typed = Tensor.FromStorage(raw.Storage, dt, new Shape(n, k));
            w = typed.AsConstant();
            // Q8_0/Q4_0: the same weight not declared constant is read in place (the AVX-512 row kernels), the constant
            // one runs on its 16-row panels: both paths in one run.
            if (dt is DType.Q8_0 or DType.Q4_0)
            {
                using var raw2 = Tensor.FromArray(cpu, blocks, blocks.Length);
                inPlace = Tensor.FromStorage(raw2.Storage, dt, new Shape(n, k));
                disposables.Add(inPlace);
            }
        }
        disposables.Add(w);
        long weightBytes = w.DType.ByteCount((long)n * k);
        float[]? tesseraOut = null;
        engines.Add(new Engine("tessera-" + type, () =>
        {
            using var y = tx.Linear(w, null, type == "int8" ? scales : null);
            tesseraOut ??= y.ToFloatArray();
        }));

        float[]? inPlaceOut = null;
        if (inPlace != null)
            engines.Add(new Engine("tessera-" + type + "-in-place", () =>
            {
                using var y = tx.Linear(inPlace);
                inPlaceOut ??= y.ToFloatArray();
            }));

        OrtRunner? dq = null;
        if (type == "int8")
        {
            var bKN = new sbyte[k * n];
            for (int j = 0; j < n; j++) for (int l = 0; l < k; l++) bKN[l * n + j] = i8![j * k + l];
            dq = new OrtRunner(OnnxModelBuilder.DynamicQuantizeMatMul(m, k, n, bKN, i8Scales!), x, m, k, n, threads);
            disposables.Add(dq);
            engines.Add(new Engine("onnxruntime-dynamicquantizematmul", dq.Run));
        }
        var f32 = new OrtRunner(OnnxModelBuilder.MatMul(m, k, n, Rand(rng, k * n, 1f)), x, m, k, n, threads);
        disposables.Add(f32);
        engines.Add(new Engine("onnxruntime-f32-matmul", f32.Run));
        var reader = new StreamRead(weightBytes, threads);
        disposables.Add(reader);
        engines.Add(new Engine("stream-read-ceiling", reader.Run));

        PeerRounds.Run([.. engines.Select(e => (e.Run, e.Ms))], rounds, 0, args.Int("settle-ms", 20), targetMs: 50, maxReps: 2000);

        var ci = CultureInfo.InvariantCulture;
        double ops = 2.0 * m * n * k;
        var med = new Dictionary<string, double>();
        foreach (var e in engines)
        {
            e.Ms.Sort();
            double ms = e.Ms[e.Ms.Count / 2];
            med[e.Name] = ms;
            double gbps = weightBytes / (ms * 1e6);
            string rate = e.Name == "stream-read-ceiling" ? $"\"read_gbps\":{gbps:F2}" : $"\"gops\":{ops / (ms * 1e6):F1},\"weight_gbps\":{gbps:F2}";
            Console.WriteLine(string.Create(ci,
                $"{{\"op\":\"qmatmul\",\"engine\":\"{e.Name}\",\"type\":\"{type}\",\"m\":{m},\"k\":{k},\"n\":{n},\"threads\":{threads},\"weight_bytes\":{weightBytes},\"reps\":{e.Ms.Count},\"ms_median\":{ms:F4},\"ms_min\":{e.Ms[0]:F4},{rate}}}"));
        }
        double t = med["tessera-" + type];
        string extra = "";
        if (dq != null)
        {
            double maxDiff = 0, maxRef = 0;
            for (int i = 0; i < dq.Y.Length; i++) { maxDiff = Math.Max(maxDiff, Math.Abs(dq.Y[i] - tesseraOut![i])); maxRef = Math.Max(maxRef, Math.Abs(dq.Y[i])); }
            extra = string.Create(ci, $",\"ratio_vs_ort_dynamicquantizematmul\":{med["onnxruntime-dynamicquantizematmul"] / t:F3},\"max_rel_diff_vs_ort\":{maxDiff / Math.Max(maxRef, 1e-30):E2}");
        }
        if (inPlace != null)
        {
            double maxDiff = 0, maxRef = 0;
            for (int i = 0; i < inPlaceOut!.Length; i++) { maxDiff = Math.Max(maxDiff, Math.Abs(inPlaceOut[i] - tesseraOut![i])); maxRef = Math.Max(maxRef, Math.Abs(inPlaceOut[i])); }
            extra += string.Create(ci, $",\"ratio_in_place_over_panels\":{med["tessera-" + type + "-in-place"] / t:F3},\"max_rel_diff_vs_in_place\":{maxDiff / Math.Max(maxRef, 1e-30):E2}");
        }
        Console.WriteLine(string.Create(ci,
            $"{{\"op\":\"qmatmul\",\"type\":\"{type}\",\"m\":{m},\"k\":{k},\"n\":{n},\"threads\":{threads}{extra},\"ratio_vs_ort_f32_matmul\":{med["onnxruntime-f32-matmul"] / t:F3},\"fraction_of_read_ceiling\":{med["stream-read-ceiling"] / t:F3}}}"));
        foreach (var d in disposables) d.Dispose();
        return 0;
    }

    internal static float[] Rand(Random r, int count, float scale) =>
        Enumerable.Range(0, count).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

    /// <summary>Symmetric per-row int8: q = round(w / s), s = max|w| / 127.</summary>
    internal static (sbyte[] Q, float[] Scales) QuantizeRows(float[] w, int n, int k)
    {
        var q = new sbyte[n * k];
        var s = new float[n];
        for (int j = 0; j < n; j++)
        {
            float amax = 0;
            for (int l = 0; l < k; l++) amax = MathF.Max(amax, MathF.Abs(w[j * k + l]));
            s[j] = amax == 0 ? 1 : amax / 127;
            for (int l = 0; l < k; l++) q[j * k + l] = (sbyte)MathF.Round(w[j * k + l] / s[j]);
        }
        return (q, s);
    }

    /// <summary>Valid GGUF blocks of random bytes with small positive f16 scales (a speed test needs no quantizer).</summary>
    internal static byte[] RandomBlocks(Random rng, DType t, long elements)
    {
        var b = new byte[t.ByteCount(elements)];
        rng.NextBytes(b);
        int bb = t.BlockBytes();
        int[] halves = t switch { DType.Q4_1 or DType.Q4_K => [0, 2], DType.Q6_K => [208], _ => [0] };
        for (long o = 0; o < b.Length; o += bb)
            foreach (int h in halves) BitConverter.TryWriteBytes(b.AsSpan((int)o + h), (Half)(0.001f + 0.01f * (float)rng.NextDouble()));
        return b;
    }

    /// <summary>An in-memory ONNX model with input A [M, K] and output Y [M, N], inputs and outputs pre-bound.</summary>
    private sealed class OrtRunner : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly OrtValue _a, _y;
        private readonly OrtIoBinding _binding;
        private readonly RunOptions _run = new();

        public OrtRunner(byte[] model, float[] a, int m, int k, int n, int threads)
        {
            using var opts = new SessionOptions
            {
                IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            _session = new InferenceSession(model, opts);
            _a = OrtValue.CreateTensorValueFromMemory(a, [m, k]);
            Y = new float[(long)m * n];
            _y = OrtValue.CreateTensorValueFromMemory(Y, [m, n]);
            _binding = _session.CreateIoBinding();
            _binding.BindInput("A", _a);
            _binding.BindOutput("Y", _y);
        }

        public float[] Y { get; }

        public void Run() => _session.RunWithBinding(_run, _binding);

        public void Dispose() { _binding.Dispose(); _a.Dispose(); _y.Dispose(); _run.Dispose(); _session.Dispose(); }
    }

    /// <summary>Sums a buffer with 512-bit loads (4 independent accumulators), threads splitting it: the read
    /// bandwidth a decode GEMV can hope for at this size.</summary>
    internal sealed unsafe class StreamRead : IDisposable
    {
        private readonly byte* _p;
        private readonly long _bytes;
        private readonly int _threads;
        public float Sink;

        public StreamRead(long bytes, int threads)
        {
            _bytes = (bytes + 255) & ~255L;
            _threads = threads;
            _p = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)_bytes, 64);
            new Span<byte>(_p, (int)_bytes).Fill(1);
        }

        public void Run()
        {
            long chunks = _bytes / 256;
            float total = 0;
            Parallel.For(0, _threads, new ParallelOptions { MaxDegreeOfParallelism = _threads }, t =>
            {
                long s = chunks * t / _threads, e = chunks * (t + 1) / _threads;
                var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
                for (long c = s; c < e; c++)
                {
                    float* q = (float*)(_p + c * 256);
                    a0 += Vector512.Load(q); a1 += Vector512.Load(q + 16); a2 += Vector512.Load(q + 32); a3 += Vector512.Load(q + 48);
                }
                float v = Vector512.Sum(a0 + a1 + a2 + a3);
                lock (this) total += v;
            });
            Sink = total;
        }

        public void Dispose() => System.Runtime.InteropServices.NativeMemory.AlignedFree(_p);
    }
}
