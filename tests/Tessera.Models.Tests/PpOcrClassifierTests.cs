using Tessera.Cpu;
using Xunit.Abstractions;

namespace Tessera.Models.Tests;

/// <summary>The direction classifier and ONNX Runtime on the same .onnx file, loaded once.</summary>
public sealed class ClsFixture : IDisposable
{
    public CpuBackend Cpu { get; } = new(new CpuBackendOptions(Threads: 2));
    public PpOcrClassifier Cls { get; }
    public OrtOracle Ort { get; } = new(ModelFiles.Cls);

    public ClsFixture() => Cls = PpOcrClassifier.Load(ModelFiles.Cls, Cpu);

    public void Dispose()
    {
        Cls.Dispose();
        Ort.Dispose();
        Cpu.Dispose();
    }
}

/// <summary>Tessera's direction classifier against ONNX Runtime on the same inputs: probabilities within a normalised
/// MSE of 1e-8 and the same decision per line; rendered lines read as upright and, rotated by 180 degrees, as
/// upside down.</summary>
public sealed class PpOcrClassifierTests(ClsFixture f, ITestOutputHelper log) : IClassFixture<ClsFixture>
{
    private const double Nmse = 1e-8;

    private float[] Agree(string what, float[] input, int[] dims)
    {
        using var x = Tensor.FromArray(f.Cpu, input, dims);
        using var probs = f.Cls.Forward(x);
        var (ort, ortDims) = f.Ort.Run(input, dims);
        Assert.Equal(ortDims, probs.Shape.Dims.ToArray());
        var got = probs.ToFloatArray();
        var (nmse, maxAbs) = OrtOracle.Compare(got, ort);
        log.WriteLine($"{what} [{string.Join(", ", dims)}]: nmse {nmse:E2}, max |diff| {maxAbs:E2}");
        for (int i = 0; i < dims[0]; i++)
        {
            log.WriteLine($"  line {i}: ours [{got[2 * i]:F6}, {got[2 * i + 1]:F6}], ORT [{ort[2 * i]:F6}, {ort[2 * i + 1]:F6}]");
            Assert.Equal(ort[2 * i] >= ort[2 * i + 1], got[2 * i] >= got[2 * i + 1]);
        }
        Assert.True(nmse < Nmse, $"{what}: probabilities differ from ONNX Runtime, nmse {nmse:E2} (max |diff| {maxAbs:E2})");
        return got;
    }

    [Fact]
    public void Random_batch_matches_onnx_runtime()
    {
        var r = new Random(5);
        int[] dims = [4, 3, 48, 192];
        var x = new float[dims.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        Agree("random", x, dims);
    }

    [Fact]
    public void Rendered_lines_upright_and_rotated_match_onnx_runtime_and_are_told_apart()
    {
        string[] texts = ["THE HEAT 2024", "TOTAL 8750"];
        var lines = texts.Select(t => TestText.Render(t)).ToList();
        using var upright = PpOcrPreprocess.Batch(f.Cpu, lines, 48, 192);
        var up = upright.ToFloatArray();
        int[] dims = upright.Shape.Dims.ToArray();
        log.WriteLine($"batch {upright.Shape} (PaddleOCR pads lines to 192; longer ones widen the batch here)");
        // Rotating by 180 degrees reverses each channel plane.
        var down = new float[up.Length];
        int plane = dims[2] * dims[3];
        for (int p = 0; p < up.Length / plane; p++)
            for (int i = 0; i < plane; i++) down[p * plane + i] = up[p * plane + plane - 1 - i];
        var a = Agree("upright lines", up, dims);
        var b = Agree("rotated lines", down, dims);
        using var ta = Tensor.FromArray(f.Cpu, a, dims[0], 2);
        using var tb = Tensor.FromArray(f.Cpu, b, dims[0], 2);
        var da = f.Cls.Decode(ta);
        var db = f.Cls.Decode(tb);
        for (int i = 0; i < texts.Length; i++)
        {
            log.WriteLine($"'{texts[i]}': upright -> {da[i]}, rotated -> {db[i]}");
            Assert.Equal(0, da[i].Angle);
            Assert.Equal(180, db[i].Angle);
        }
    }

    [Fact]
    public void Wrong_input_shapes_are_refused()
    {
        using var x = Tensor.Zeros(f.Cpu, DType.F32, new Shape(1, 1, 48, 192));
        Assert.Contains("[1, 1, 48, 192]", Assert.Throws<TesseraException>(() => f.Cls.Forward(x)).Message);
    }
}
