using Tessera.Cpu;
using Tessera.Models.Diffusion.Vae;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>AutoencoderKL without a reference: tiled decoding and encoding against the whole decode and encode on a random
/// model, the seam each would leave without blending, automatic tiling, and bad input (sizes off the factor, wrong latents, configs this
/// implementation refuses, a missing weight).</summary>
public sealed class AutoencoderKlTests(ITestOutputHelper output) : IDisposable
{
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 2));
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-akl-").FullName;

    public void Dispose()
    {
        _cpu.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static readonly AutoencoderKlConfig Small = new([16, 32], LayersPerBlock: 1, LatentChannels: 4, NormNumGroups: 4, SampleSize: 32);

    private string Write(AutoencoderKlConfig config, string name = "vae")
    {
        var rng = new Random(5);
        var ckpt = new AutoencoderKlCheckpoint(config, (_, scale, shape) =>
        {
            var v = new float[shape.Aggregate(1, (a, b) => a * b)];
            for (int i = 0; i < v.Length; i++) v[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
            return v;
        });
        string dir = Path.Combine(_dir, name);
        ckpt.WriteFolder(dir);
        return dir;
    }

    // A smooth latent: low-frequency waves, different per channel.
    private Tensor SmoothLatent(int c, int h, int w)
    {
        var v = new float[c * h * w];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    v[(ch * h + y) * w + x] = MathF.Sin(0.21f * x + ch) + MathF.Cos(0.17f * y - 0.5f * ch);
        return Tensor.FromArray(_cpu, v, 1, c, h, w);
    }

    // |change of the column mean| between neighbouring columns c and c + 1, per channel, largest over channels: a
    // seam is a shift of a whole column's level (brightness, colour), which a column mean keeps and texture averages out of.
    private static double[] ColumnLevelSteps(float[] img, int channels, int h, int w)
    {
        var s = new double[w - 1];
        for (int ch = 0; ch < channels; ch++)
        {
            var mean = new double[w];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) mean[x] += img[(ch * h + y) * w + x] / (double)h;
            for (int x = 0; x + 1 < w; x++) s[x] = Math.Max(s[x], Math.Abs(mean[x + 1] - mean[x]));
        }
        return s;
    }

    [Fact]
    public void TiledDecodeHasNoSeamWhereAnUnblendedTilingHasOne()
    {
        using var vae = AutoencoderKl.Open(_cpu, Write(Small));
        const int tile = 32, h = 32, w = 72;                // latent; factor 2: images 64 x 144, tiles of 64 pixels
        using var z = SmoothLatent(4, h, w);
        using var whole = vae.Decode(z);
        using var blended = vae.DecodeTiled(z, tile, 0.25);   // tiles start every 24 latent columns (0, 24, 48), 16 pixels blended
        using var cut = vae.DecodeTiled(z, tile, 0);          // tiles side by side: seams between pixel columns 63|64 and 127|128
        int W = 2 * w, H = 2 * h;
        // What tiling changes is the difference to the whole decode; a seam is a jump in that difference's level
        // (a column's mean: brightness, colour) from one column to the next.
        var a = whole.ToFloatArray();
        float[] Minus(float[] t) => [.. t.Select((v, i) => v - a[i])];
        var cutSteps = ColumnLevelSteps(Minus(cut.ToFloatArray()), 3, H, W);
        var blendSteps = ColumnLevelSteps(Minus(blended.ToFloatArray()), 3, H, W);
        bool NearSeam(int x) => Math.Abs(x - 63) <= 8 || Math.Abs(x - 127) <= 8;   // a tile's border reaches a few pixels in
        double cutSeam = cutSteps.Where((_, x) => NearSeam(x)).Max();
        double cutElsewhere = cutSteps.Where((_, x) => !NearSeam(x)).Max();
        double blendWorst = blendSteps.Max();
        output.WriteLine($"largest column-to-column step of (tiled - whole): unblended tiles {cutSeam:F4} at the seams, {cutElsewhere:F4} elsewhere; blended tiles {blendWorst:F4} anywhere");
        // The unblended tiling leaves a seam: a step well above any other in the difference ...
        Assert.True(cutSeam > 2 * cutElsewhere, $"unblended: seam step {cutSeam:F4}, elsewhere up to {cutElsewhere:F4}");
        // ... the blended one spreads it over the overlap: no step anywhere comes near the seam's.
        Assert.True(blendWorst < cutSeam / 4, $"blended: largest step {blendWorst:F4}, the unblended seam {cutSeam:F4}");
    }

    [Fact]
    public void OneTileIsTheWholeDecodeAndAutomaticTilingStartsAboveTheThreshold()
    {
        string dir = Write(Small);
        using var never = AutoencoderKl.Open(_cpu, dir, new AutoencoderKlOptions { TileSize = 0 });
        using var tiny = AutoencoderKl.Open(_cpu, dir, new AutoencoderKlOptions { AutoTileAbovePixels = 32 * 32 });
        using var z = SmoothLatent(4, 16, 16);               // 32 x 32: one tile of sample_size 32
        using var a = never.Decode(z);
        using var b = tiny.Decode(z);
        Assert.Equal(a.ToFloatArray(), b.ToFloatArray());
        using var wide = SmoothLatent(4, 16, 40);            // 32 x 80 > the threshold: tiles of 32 pixels
        using var auto = tiny.Decode(wide);
        using var explicitTiles = never.DecodeTiled(wide, 16);
        Assert.Equal(explicitTiles.ToFloatArray(), auto.ToFloatArray());
        using var untiled = never.Decode(wide);
        Assert.NotEqual(untiled.ToFloatArray(), auto.ToFloatArray());
    }

    [Fact]
    public void TiledEncodeHasNoSeamWhereAnUnblendedTilingHasOne()
    {
        using var vae = AutoencoderKl.Open(_cpu, Write(Small));
        const int tile = 32, h = 32, w = 72;                // latent; factor 2: images 64 x 144, tiles of 64 pixels
        using var image = SmoothLatent(3, 2 * h, 2 * w);
        using var whole = vae.Encode(image);
        using var blended = vae.EncodeTiled(image, tile, 0.25);   // tiles every 48 pixels, 8 latent columns blended
        using var cut = vae.EncodeTiled(image, tile, 0);          // side by side: seams between latent columns 31|32 and 63|64
        var a = whole.Mean.ToFloatArray();
        float[] Minus(float[] t) => [.. t.Select((v, i) => v - a[i])];
        var cutSteps = ColumnLevelSteps(Minus(cut.Mean.ToFloatArray()), 4, h, w);
        var blendSteps = ColumnLevelSteps(Minus(blended.Mean.ToFloatArray()), 4, h, w);
        bool NearSeam(int x) => Math.Abs(x - 31) <= 3 || Math.Abs(x - 63) <= 3;
        double cutSeam = cutSteps.Where((_, x) => NearSeam(x)).Max();
        double cutElsewhere = cutSteps.Where((_, x) => !NearSeam(x)).Max();
        double blendWorst = blendSteps.Max();
        output.WriteLine($"largest column-to-column step of the latent mean (tiled - whole): unblended tiles {cutSeam:F4} at the seams, {cutElsewhere:F4} elsewhere; blended tiles {blendWorst:F4} anywhere");
        Assert.True(cutSeam > 2 * cutElsewhere, $"unblended: seam step {cutSeam:F4}, elsewhere up to {cutElsewhere:F4}");
        Assert.True(blendWorst < cutSeam / 3, $"blended: largest step {blendWorst:F4}, the unblended seam {cutSeam:F4}");
        // The log-variance is blended the same way and clamped afterwards, as diffusers' posterior of the tiled moments.
        Assert.Equal(whole.LogVar.Shape, blended.LogVar.Shape);
        Assert.All(blended.LogVar.ToFloatArray(), v => Assert.InRange(v, -30f, 20f));
    }

    [Fact]
    public void OneTileIsTheWholeEncodeAndAutomaticTilingStartsAboveTheThreshold()
    {
        string dir = Write(Small);
        using var never = AutoencoderKl.Open(_cpu, dir, new AutoencoderKlOptions { TileSize = 0 });
        using var tiny = AutoencoderKl.Open(_cpu, dir, new AutoencoderKlOptions { AutoTileAbovePixels = 32 * 32 });
        using var small = SmoothLatent(3, 32, 32);           // one tile of sample_size 32
        using (var a = never.Encode(small))
        using (var b = tiny.Encode(small))
        {
            Assert.Equal(a.Mean.ToFloatArray(), b.Mean.ToFloatArray());
            Assert.Equal(a.LogVar.ToFloatArray(), b.LogVar.ToFloatArray());
        }
        using var wide = SmoothLatent(3, 32, 80);            // 32 x 80 > the threshold: tiles of 32 pixels
        using var auto = tiny.Encode(wide);
        using var explicitTiles = never.EncodeTiled(wide, 16);
        Assert.Equal(explicitTiles.Mean.ToFloatArray(), auto.Mean.ToFloatArray());
        Assert.Equal([1, 4, 16, 40], auto.Mean.Shape.Dims.ToArray());
        using var untiled = never.Encode(wide);
        Assert.NotEqual(untiled.Mean.ToFloatArray(), auto.Mean.ToFloatArray());
        // An explicit tile size tiles whatever the image's size; a ragged last tile still fills the latent exactly.
        using var fixedTiles = AutoencoderKl.Open(_cpu, dir, new AutoencoderKlOptions { TileSize = 16 });
        using var ragged = SmoothLatent(3, 22, 38);
        using var r = fixedTiles.Encode(ragged);
        using var rExplicit = never.EncodeTiled(ragged, 8);
        Assert.Equal([1, 4, 11, 19], r.Mean.Shape.Dims.ToArray());
        Assert.Equal(rExplicit.Mean.ToFloatArray(), r.Mean.ToFloatArray());
    }

    [Fact]
    public void BadInputIsRefusedByName()
    {
        string dir = Write(Small);
        using var vae = AutoencoderKl.Open(_cpu, dir);
        using var odd = Tensor.Zeros(_cpu, DType.F32, new Shape(1, 3, 10, 9));
        Assert.Contains("latent factor 2", Assert.Throws<TesseraException>(() => vae.Encode(odd)).Message);
        using var wrong = Tensor.Zeros(_cpu, DType.F32, new Shape(1, 3, 4, 4));
        Assert.Contains("[B, 4, h, w]", Assert.Throws<TesseraException>(() => vae.Decode(wrong)).Message);
        Assert.Contains("multiple of the spatial factor 2",
            Assert.Throws<TesseraException>(() => AutoencoderKl.Open(_cpu, dir, new AutoencoderKlOptions { TileSize = 33 })).Message);
        using (var decoderOnly = AutoencoderKl.Open(_cpu, dir, new AutoencoderKlOptions { LoadEncoder = false }))
            Assert.Contains("encoder was not loaded", Assert.Throws<TesseraException>(() => decoderOnly.Encode(odd)).Message);

        string config = Path.Combine(dir, "config.json");
        string text = File.ReadAllText(config);
        File.WriteAllText(config, text.Replace("\"UpDecoderBlock2D\"", "\"AttnUpDecoderBlock2D\"", StringComparison.Ordinal));
        Assert.Contains("AttnUpDecoderBlock2D", Assert.Throws<TesseraException>(() => AutoencoderKl.Open(_cpu, dir)).Message);
        File.WriteAllText(config, text.Replace("\"norm_num_groups\":4", "\"norm_num_groups\":5", StringComparison.Ordinal));
        Assert.Contains("norm_num_groups 5", Assert.Throws<TesseraException>(() => AutoencoderKl.Open(_cpu, dir)).Message);
        // A checkpoint from another config: the first tensor whose shape disagrees is named.
        File.WriteAllText(config, text.Replace("\"latent_channels\":4", "\"latent_channels\":8", StringComparison.Ordinal));
        var e = Assert.Throws<Tessera.Formats.WeightFormatException>(() => AutoencoderKl.Open(_cpu, dir));
        Assert.Contains("encoder.conv_out.weight", e.Message);
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        Assert.Contains("config.json", Assert.Throws<TesseraException>(() => AutoencoderKl.Open(_cpu, empty)).Message);
    }
}
