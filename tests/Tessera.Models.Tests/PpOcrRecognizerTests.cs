using Microsoft.ML.OnnxRuntime;
using Tessera.Cpu;
using Xunit.Abstractions;

namespace Tessera.Models.Tests;

/// <summary>The recogniser and ONNX Runtime, loaded once: ONNX Runtime runs the same .onnx file as the oracle.</summary>
public sealed class RecFixture : IDisposable
{
    public CpuBackend Cpu { get; } = new(new CpuBackendOptions(Threads: 2));
    public PpOcrRecognizer Rec { get; }
    public InferenceSession Ort { get; }

    public RecFixture()
    {
        Rec = PpOcrRecognizer.Load(ModelFiles.Rec, ModelFiles.Keys, Cpu);
        using var opts = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        Ort = new InferenceSession(ModelFiles.Rec, opts);
    }

    /// <summary>ONNX Runtime's probabilities [B, T, classes] for an input [B, 3, 48, W].</summary>
    public (float[] Probs, int[] Dims) RunOrt(float[] input, int[] dims)
    {
        using var x = OrtValue.CreateTensorValueFromMemory(input, dims.Select(d => (long)d).ToArray());
        using var outs = Ort.Run(new RunOptions(), new Dictionary<string, OrtValue> { ["x"] = x }, Ort.OutputNames);
        var o = outs[0];
        return (o.GetTensorDataAsSpan<float>().ToArray(), o.GetTensorTypeAndShape().Shape.Select(d => (int)d).ToArray());
    }

    public void Dispose()
    {
        Rec.Dispose();
        Ort.Dispose();
        Cpu.Dispose();
    }
}

/// <summary>Tessera's PP-OCRv4 recogniser against ONNX Runtime on the same ONNX file and the same input tensors.
/// Tolerance: normalised MSE (mse(ours, ort) / mse(ort, 0)) of the probabilities under 1e-8, and every step's best
/// class equal, so the decoded text and confidence agree. Both run f32 with different summation orders, folded
/// batch norms and fused epilogues, so bit equality is not expected; measured figures are printed.</summary>
public sealed class PpOcrRecognizerTests(RecFixture f, ITestOutputHelper log) : IClassFixture<RecFixture>
{
    private const double Nmse = 1e-8;

    private static (double Nmse, double MaxAbs) Compare(float[] ours, float[] ort) => OrtOracle.Compare(ours, ort);

    private (IReadOnlyList<RecognizedText> Ours, IReadOnlyList<RecognizedText> Ort) Agree(string what, float[] input, int[] dims)
    {
        using var x = Tensor.FromArray(f.Cpu, input, dims);
        using var probs = f.Rec.Forward(x);
        var (ortProbs, ortDims) = f.RunOrt(input, dims);
        Assert.Equal(ortDims, probs.Shape.Dims.ToArray());
        var (nmse, maxAbs) = Compare(probs.ToFloatArray(), ortProbs);
        log.WriteLine($"{what} [{string.Join(", ", dims)}] -> [{string.Join(", ", ortDims)}]: nmse {nmse:E2}, max |diff| {maxAbs:E2}");
        Assert.True(nmse < Nmse, $"{what}: probabilities differ from ONNX Runtime, nmse {nmse:E2} (max |diff| {maxAbs:E2})");
        using var ortT = Tensor.FromArray(f.Cpu, ortProbs, ortDims);
        var ours = f.Rec.Decode(probs);
        var theirs = f.Rec.Decode(ortT);
        for (int i = 0; i < ours.Count; i++)
        {
            log.WriteLine($"  line {i}: ours '{ours[i].Text}' {ours[i].Confidence:F6}, ORT '{theirs[i].Text}' {theirs[i].Confidence:F6}");
            Assert.Equal(theirs[i].Text, ours[i].Text);
            Assert.Equal(theirs[i].Confidence, ours[i].Confidence, 1e-4);
        }
        return (ours, theirs);
    }

    [Fact]
    public void Random_input_matches_onnx_runtime()
    {
        var r = new Random(7);
        int[] dims = [1, 3, 48, 320];
        var x = new float[dims.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        Agree("random", x, dims);
    }

    [Fact]
    public void Rendered_lines_match_onnx_runtime_and_read_back()
    {
        string[] texts = ["THE HEAT 2024", "31415926", "TOTAL 8750"];
        var lines = texts.Select(t => TestText.Render(t)).ToList();
        using var batch = PpOcrPreprocess.Batch(f.Cpu, lines);
        var (ours, _) = Agree("rendered batch", batch.ToFloatArray(), batch.Shape.Dims.ToArray());
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(texts[i], ours[i].Text);
            Assert.True(ours[i].Confidence > 0.8f, $"'{texts[i]}' read with confidence {ours[i].Confidence}");
        }
    }

    [Fact]
    public void A_line_wider_than_320_widens_the_batch_and_still_matches()
    {
        var line = TestText.Render("1234567890 HALT 1234567890", scale: 3);
        var lines = new[] { line };
        int w = PpOcrPreprocess.BatchWidth(lines);
        Assert.True(w > 320, $"batch width {w}");
        using var batch = PpOcrPreprocess.Batch(f.Cpu, lines);
        var (ours, _) = Agree("wide line", batch.ToFloatArray(), batch.Shape.Dims.ToArray());
        Assert.Equal("1234567890 HALT 1234567890", ours[0].Text);
    }

    [Fact]
    public void Recognize_runs_preprocessing_network_and_decoding()
    {
        var got = f.Rec.Recognize([TestText.Render("2024")], f.Cpu);
        Assert.Equal("2024", got[0].Text);
    }

    [Fact]
    public void Dictionary_gives_blank_characters_and_space()
    {
        Assert.Equal(6625, f.Rec.Classes);
        Assert.Equal("", f.Rec.Characters[0]);
        Assert.Equal(" ", f.Rec.Characters[^1]);
        Assert.Equal(6625, f.Rec.Characters.Count);
    }

    [Fact]
    public void Wrong_input_shapes_are_refused()
    {
        using var x = Tensor.Zeros(f.Cpu, DType.F32, new Shape(1, 3, 32, 320));
        Assert.Contains("[1, 3, 32, 320]", Assert.Throws<TesseraException>(() => f.Rec.Forward(x)).Message);
    }
}
