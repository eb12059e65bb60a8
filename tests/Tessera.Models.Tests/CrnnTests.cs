using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Xunit.Abstractions;

namespace Tessera.Models.Tests;

/// <summary>The CRNN model against ONNX Runtime. The test draws random weights for a small CRNN of crnn.pytorch's
/// layout, writes them as a safetensors checkpoint under crnn.pytorch's names (PyTorch's LSTM gate order i, f, g, o),
/// and builds an ONNX graph of the same network from the same values (Conv, BatchNormalization, Relu, MaxPool,
/// Squeeze, Transpose, bidirectional LSTM in ONNX's gate order i, o, f, c, Reshape, MatMul, Add). Both orders are
/// assembled here from the same per-gate blocks, so the model's own reordering is checked, not repeated. Tessera
/// loads the checkpoint with <see cref="Crnn"/>; its logits must match ONNX Runtime's and the decoded text must be
/// the same.</summary>
public sealed class CrnnTests(ITestOutputHelper log) : IDisposable
{
    private static readonly int[] Widths = [8, 16, 16, 16, 24, 24, 24];
    private const int Hidden = 10;
    private static readonly CrnnConfig Config = new("abcdef", HiddenSize: Hidden);
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-crnn-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Maker(int seed)
    {
        private readonly Random _rng = new(seed);
        public readonly List<WeightTensor> Checkpoint = [];
        public readonly OnnxBuilder Graph = new();

        public float[] U(int n, double bound, double center = 0) =>
            [.. Enumerable.Range(0, n).Select(_ => (float)(center + (_rng.NextDouble() * 2 - 1) * bound))];

        public void Both(string torchName, string onnxName, int[] dims, float[] v)
        {
            Checkpoint.Add(WeightTensor.FromValues(torchName, [.. dims.Select(d => (long)d)], v));
            Graph.Float(onnxName, dims, v);
        }
    }

    /// <summary>Gate blocks concatenated in the given order ("ifgo" for PyTorch, "iofg" for ONNX's i, o, f, c).</summary>
    private static float[] Cat(Dictionary<char, float[]> gates, string order) => [.. order.SelectMany(g => gates[g])];

    private static (string Checkpoint, string Onnx) Build(string dir, int seed, bool dropRunningVar = false, string prefix = "")
    {
        var m = new Maker(seed);
        var g = m.Graph;
        g.Input("x", -1, 1, 32, -1);
        string cur = "x";
        int ch = 1;
        int[] ks = [3, 3, 3, 3, 3, 3, 2], ps = [1, 1, 1, 1, 1, 1, 0];
        for (int i = 0; i < 7; i++)
        {
            int k = ks[i], o = Widths[i];
            m.Both($"cnn.conv{i}.weight", $"w{i}", [o, ch, k, k], m.U(o * ch * k * k, Math.Sqrt(6.0 / (ch * k * k))));
            m.Both($"cnn.conv{i}.bias", $"b{i}", [o], m.U(o, 0.1));
            g.Node("Conv", [cur, $"w{i}", $"b{i}"], [cur = $"conv{i}"], ("kernel_shape", new[] { k, k }), ("pads", new[] { ps[i], ps[i], ps[i], ps[i] }));
            if (i is 2 or 4 or 6)
            {
                string bn = $"cnn.batchnorm{i}";
                m.Both($"{bn}.weight", $"bn{i}.s", [o], m.U(o, 0.5, 1));
                m.Both($"{bn}.bias", $"bn{i}.b", [o], m.U(o, 0.2));
                m.Both($"{bn}.running_mean", $"bn{i}.m", [o], m.U(o, 0.2));
                var v = m.U(o, 0.5, 1);
                if (dropRunningVar && i == 4) g.Float($"bn{i}.v", [o], v);
                else m.Both($"{bn}.running_var", $"bn{i}.v", [o], v);
                g.Node("BatchNormalization", [cur, $"bn{i}.s", $"bn{i}.b", $"bn{i}.m", $"bn{i}.v"], [cur = $"bn{i}"], ("epsilon", 1e-5f));
            }
            g.Node("Relu", [cur], [cur = $"relu{i}"]);
            if (i is 0 or 1) g.Node("MaxPool", [cur], [cur = $"pool{i}"], ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 }));
            if (i is 3 or 5) g.Node("MaxPool", [cur], [cur = $"pool{i}"], ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 1 }), ("pads", new[] { 0, 1, 0, 1 }));
            ch = o;
        }
        g.Int64("axis2", [2]);
        g.Int64("flat", [0, 0, -1]);
        g.Node("Squeeze", [cur, "axis2"], ["squeezed"]);
        g.Node("Transpose", ["squeezed"], [cur = "seq0"], ("perm", new[] { 2, 0, 1 }));
        for (int l = 0; l < 2; l++)
        {
            int outN = l == 0 ? Hidden : Config.Classes, h = Hidden;
            var onnxW = new List<float>();
            var onnxR = new List<float>();
            var onnxB = new List<float>();
            for (int d = 0; d < 2; d++)
            {
                string sfx = d == 0 ? "_l0" : "_l0_reverse", p = $"rnn.{l}.rnn.";
                double bound = 1 / Math.Sqrt(h);
                Dictionary<char, float[]> Gates(int per) => "ifgo".ToDictionary(c => c, _ => m.U(per, 2 * bound));
                var wi = Gates(h * ch); var wh = Gates(h * h); var bi = Gates(h); var bh = Gates(h);
                m.Checkpoint.Add(WeightTensor.FromValues(p + "weight_ih" + sfx, [4 * h, ch], Cat(wi, "ifgo")));
                m.Checkpoint.Add(WeightTensor.FromValues(p + "weight_hh" + sfx, [4 * h, h], Cat(wh, "ifgo")));
                m.Checkpoint.Add(WeightTensor.FromValues(p + "bias_ih" + sfx, [4 * h], Cat(bi, "ifgo")));
                m.Checkpoint.Add(WeightTensor.FromValues(p + "bias_hh" + sfx, [4 * h], Cat(bh, "ifgo")));
                onnxW.AddRange(Cat(wi, "iofg"));
                onnxR.AddRange(Cat(wh, "iofg"));
                onnxB.AddRange(Cat(bi, "iofg"));
                onnxB.AddRange(Cat(bh, "iofg"));
            }
            g.Float($"W{l}", [2, 4 * h, ch], [.. onnxW]);
            g.Float($"R{l}", [2, 4 * h, h], [.. onnxR]);
            g.Float($"B{l}", [2, 8 * h], [.. onnxB]);
            var embW = m.U(outN * 2 * h, 1.5 / Math.Sqrt(2 * h));
            var embB = m.U(outN, 0.3);
            m.Checkpoint.Add(WeightTensor.FromValues($"rnn.{l}.embedding.weight", [outN, 2 * h], embW));
            m.Checkpoint.Add(WeightTensor.FromValues($"rnn.{l}.embedding.bias", [outN], embB));
            var embWT = new float[2 * h * outN]; // MatMul wants [2H, out]
            for (int r = 0; r < outN; r++) for (int c = 0; c < 2 * h; c++) embWT[c * outN + r] = embW[r * 2 * h + c];
            g.Float($"E{l}", [2 * h, outN], embWT);
            g.Float($"Eb{l}", [outN], embB);
            g.Node("LSTM", [cur, $"W{l}", $"R{l}", $"B{l}"], [$"Y{l}"], ("hidden_size", h), ("direction", "bidirectional"));
            g.Node("Transpose", [$"Y{l}"], [$"Yt{l}"], ("perm", new[] { 0, 2, 1, 3 }));
            g.Node("Reshape", [$"Yt{l}", "flat"], [$"Yr{l}"]);
            g.Node("MatMul", [$"Yr{l}", $"E{l}"], [$"mm{l}"]);
            g.Node("Add", [$"mm{l}", $"Eb{l}"], [cur = l == 1 ? "logits" : $"seq{l + 1}"]);
            ch = outN;
        }
        g.Output("logits", -1, -1, Config.Classes);
        string ckpt = Path.Combine(dir, $"crnn{seed}{prefix}.safetensors"), onnx = Path.Combine(dir, $"crnn{seed}.onnx");
        SafetensorsWriter.Write(ckpt, [.. m.Checkpoint.Select(t => t with { Name = prefix + t.Name })]);
        File.WriteAllBytes(onnx, g.Model());
        return (ckpt, onnx);
    }

    private static float[] Image(int batch, int width, int seed)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, batch * 32 * width).Select(_ => (float)(r.NextDouble() * 2 - 1))];
    }

    // An independent greedy CTC decode of ONNX Runtime's logits [T, B, classes].
    private static string OrtText(float[] logits, int t, int b, int k, int item)
    {
        var s = "";
        int prev = 0;
        for (int i = 0; i < t; i++)
        {
            int best = 0;
            for (int c = 1; c < k; c++) if (logits[(i * b + item) * k + c] > logits[(i * b + item) * k + best]) best = c;
            if (best != 0 && best != prev) s += Config.Alphabet[best - 1];
            prev = best;
        }
        return s;
    }

    [Theory]
    [InlineData(1, 1, 24)]
    [InlineData(2, 3, 40)]
    public void Logits_and_text_match_onnx_runtime(int threads, int batch, int width)
    {
        var (ckpt, onnx) = Build(_dir, seed: 7);
        var be = new CpuBackend(new CpuBackendOptions(Threads: threads));
        using var model = Crnn.Load(ckpt, be, Config);
        var img = Image(batch, width, 11);
        using var x = Tensor.FromArray(be, img, batch, 1, 32, width);
        using var logits = model.Forward(x);
        int t = width / 4 + 1;
        Assert.Equal([t, batch, Config.Classes], logits.Shape.Dims.ToArray());

        using var ort = new OrtOracle(onnx);
        var (want, dims) = ort.Run(img, [batch, 1, 32, width]);
        Assert.Equal([t, batch, Config.Classes], dims);
        var (nmse, max) = OrtOracle.Compare(logits.ToFloatArray(), want);
        log.WriteLine($"batch {batch} width {width}: logits nmse {nmse:E2}, max |diff| {max:E2}");
        Assert.True(nmse < 1e-8, $"logits differ from ONNX Runtime: nmse {nmse:E2}, max |diff| {max:E2}");

        var text = model.Decode(logits);
        for (int i = 0; i < batch; i++)
        {
            log.WriteLine($"item {i}: '{text[i]}'");
            Assert.Equal(OrtText(want, t, batch, Config.Classes, i), text[i]);
        }
        Assert.Contains(text, s => s.Length > 0); // random weights still decode to some text, so the check has teeth
    }

    [Fact]
    public void Missing_and_misshaped_tensors_are_named()
    {
        var be = new CpuBackend(new CpuBackendOptions(Threads: 1));
        var (ckpt, _) = Build(_dir, seed: 3, dropRunningVar: true);
        TesseraException e = Assert.Throws<WeightFormatException>(() => Crnn.Load(ckpt, be, Config));
        Assert.Contains("tensor 'cnn.batchnorm4.running_var': no such tensor", e.Message);

        (ckpt, _) = Build(_dir, seed: 4);
        e = Assert.Throws<WeightFormatException>(() => Crnn.Load(ckpt, be, Config with { HiddenSize = 12 }));
        Assert.Contains("tensor 'rnn.0.rnn.weight_ih_l0': is f32 [40, 24], expected [48, 24]", e.Message);
        e = Assert.Throws<TesseraException>(() => Crnn.Load(ckpt, be, Config with { Alphabet = "abc" }));
        Assert.Contains("the last embedding gives 7 classes, the alphabet 4", e.Message);
        using var model = Crnn.Load(ckpt, be, Config);
        using var bad = Tensor.Zeros(be, DType.F32, new Shape(1, 1, 48, 24));
        e = Assert.Throws<TesseraException>(() => model.Forward(bad));
        Assert.Contains("[B, 1, 32, W]", e.Message);
    }

    [Fact]
    public void A_DataParallel_checkpoint_loads_under_its_module_prefix()
    {
        // crnn.pytorch's published crnn.pth was saved from nn.DataParallel: every name starts with "module.".
        var be = new CpuBackend(new CpuBackendOptions(Threads: 1));
        var (plain, _) = Build(_dir, seed: 9);
        var (wrapped, _) = Build(_dir, seed: 9, prefix: "module.");
        using var a = Crnn.Load(plain, be, Config);
        using var b = Crnn.Load(wrapped, be, Config);
        var img = Image(2, 16, 4);
        using var x = Tensor.FromArray(be, img, 2, 1, 32, 16);
        using var la = a.Forward(x);
        using var lb = b.Forward(x);
        Assert.Equal(la.ToFloatArray(), lb.ToFloatArray());
    }

    [Fact]
    public void A_load_that_fails_halfway_keeps_nothing_and_a_model_disposes_what_it_loaded()
    {
        var be = new CpuBackend(new CpuBackendOptions(Threads: 1));
        var (bad, _) = Build(_dir, seed: 3, dropRunningVar: true);
        var wb = WeightBuilder.Open(be, bad);
        int loaded = -1;
        try
        {
            Assert.Throws<WeightFormatException>(() => Crnn.Load(wb, Config));
            loaded = wb.Weights.Count;
        }
        finally
        {
            wb.Dispose();
        }
        Assert.True(loaded > 0, "the convs before batchnorm4 were loaded before the failure");
        Assert.Equal(0, wb.Weights.Count);   // disposed with the builder

        var (good, _) = Build(_dir, seed: 4);
        WeightSet set;
        Crnn model;
        using (var wb2 = WeightBuilder.Open(be, good))
        {
            model = Crnn.Load(wb2, Config);
            set = wb2.Weights;
        }
        Assert.True(set.Count > 0);            // committed: the builder's disposal left the model's weights alone
        using (var x = Tensor.Zeros(be, DType.F32, new Shape(1, 1, 32, 8)))
        using (model.Forward(x)) { }
        model.Dispose();
        Assert.Equal(0, set.Count);
    }
}
