using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Models.Diffusion;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The DiT's refusals and its fixed positions, without PyTorch: a class id past num_classes, latents that do
/// not fit the patch, a config this implementation does not cover; the sin-cos table against its formula.</summary>
public sealed class DitInputTests(DitTorchTests.Cases cases) : IClassFixture<DitTorchTests.Cases>
{
    private static readonly CpuBackend Cpu = new(new CpuBackendOptions(Threads: 1));

    [Fact]
    public void ClassIdPastNumClassesIsRefusedNamingBoth()
    {
        using var model = Dit.Open(cases.Ref.Cpu, cases.Folder);
        using var x = Tensor.Zeros(cases.Ref.Cpu, DType.F32, new Shape(2, DitTorchTests.InChannels, 8, 8));
        using var t = Tensor.FromArray(cases.Ref.Cpu, new[] { 1f, 2f }, 2);
        var e = Assert.Throws<TesseraException>(() => model.Forward(x, t, [0, 9]).Dispose());
        Assert.Contains("class id 9", e.Message, StringComparison.Ordinal);
        Assert.Contains("num_classes is 5", e.Message, StringComparison.Ordinal);
        Assert.Equal(DitTorchTests.Classes, model.NullClass);
        using var ok = model.Forward(x, t, [0, model.NullClass]); // the null class is a valid id (classifier-free guidance)
        Assert.Throws<TesseraException>(() => model.Forward(x, t, [-1, 0]).Dispose());
    }

    [Fact]
    public void LatentsOffThePatchGridAndBatchMismatchesAreRefused()
    {
        using var model = Dit.Open(cases.Ref.Cpu, cases.Folder);
        using var t = Tensor.FromArray(cases.Ref.Cpu, new[] { 1f }, 1);
        using var odd = Tensor.Zeros(cases.Ref.Cpu, DType.F32, new Shape(1, DitTorchTests.InChannels, 7, 8));
        Assert.Contains("[1, 3, 7, 8]", Assert.Throws<TesseraException>(() => model.Forward(odd, t, [0]).Dispose()).Message, StringComparison.Ordinal);
        using var channels = Tensor.Zeros(cases.Ref.Cpu, DType.F32, new Shape(1, 4, 8, 8));
        Assert.Throws<TesseraException>(() => model.Forward(channels, t, [0]).Dispose());
        using var two = Tensor.Zeros(cases.Ref.Cpu, DType.F32, new Shape(2, DitTorchTests.InChannels, 8, 8));
        Assert.Contains("timesteps", Assert.Throws<TesseraException>(() => model.Forward(two, t, [0, 0]).Dispose()).Message, StringComparison.Ordinal);
        using var noSigma = Tensor.Zeros(cases.Ref.Cpu, DType.F32, new Shape(1, DitTorchTests.InChannels, 8, 8));
        Assert.Throws<TesseraException>(() => model.SplitLearnedSigma(noSigma));
    }

    [Fact]
    public void UnsupportedConfigIsRefusedByKey()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-dit-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), """{"norm_type": "ada_norm_single", "num_attention_heads": 2}""");
            Assert.Contains("norm_type", Assert.Throws<TesseraException>(() => DitConfig.Load(dir)).Message, StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(dir, "config.json"), """{"num_attention_heads": 3, "attention_head_dim": 5}""");
            Assert.Contains("multiple of 4", Assert.Throws<TesseraException>(() => DitConfig.Load(dir)).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void SinCosPositionsFollowTheFormula()
    {
        const int dim = 8, rows = 3, cols = 5, baseSize = 4;
        using var pos = DitPositions.SinCos2d(Cpu, dim, rows, cols, baseSize);
        var v = pos.ToFloatArray();
        // Token (r=2, c=3): column coordinate 3 / (5/4) = 2.4 in the first half, row coordinate 2 / (3/4) in the second.
        int o = (2 * cols + 3) * dim;
        double x = 3 / (5.0 / 4), y = 2 / (3.0 / 4), w1 = 1 / Math.Pow(10000, 0.5);
        Assert.Equal(Math.Sin(x), v[o], 6);
        Assert.Equal(Math.Sin(x * w1), v[o + 1], 6);
        Assert.Equal(Math.Cos(x), v[o + 2], 6);
        Assert.Equal(Math.Cos(y * w1), v[o + 7], 6);
    }
}
