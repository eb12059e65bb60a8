using Tessera.Cpu;
using static Tessera.Formats.Tests.WeightBuilderFixtures;

namespace Tessera.Formats.Tests;

/// <summary>Who owns what the builder loaded: the builder until <see cref="WeightBuilder.Commit"/>, the model after.</summary>
public class WeightBuilderOwnershipTests
{
    private static readonly IBackend Cpu = CpuBackend.Default;

    /// <summary>A model's load as the layers write it: a few weights, a derived tensor, then a weight of the wrong
    /// shape (or a missing one) halfway through; everything it got before the throw is recorded.</summary>
    private sealed class HalfLoadedModel
    {
        public List<Tensor> Loaded { get; } = [];

        public WeightSet Load(WeightBuilder wb, bool failing)
        {
            var l = wb.Pp("layers").Pp(0);
            Loaded.Add(l.Get("q.weight", 7, 3));
            Loaded.Add(l.GetAs("q.bias", DType.BF16, 7));
            Loaded.Add(l.Own(Loaded[0].T)); // a view a layer keeps
            Loaded.Add(wb.Upload([1f, 2f, 3f], 3));
            Loaded.Add(l.Get("k.weight", failing ? 4 : 7, 3));
            Loaded.Add(l.Get("v.weight", 7, 3));
            return wb.Commit();
        }
    }

    /// <summary>Whether the process maps <paramref name="path"/> (Linux's /proc/self/maps; false elsewhere).</summary>
    internal static bool IsMapped(string path) =>
        OperatingSystem.IsLinux() && System.IO.File.ReadAllLines("/proc/self/maps").Any(l => l.EndsWith(" " + path, StringComparison.Ordinal));

    private static string File(TempDir dir) =>
        WriteSafetensors(dir, "m.safetensors", F32("layers.0.q.weight", 7, 3), F32("layers.0.q.bias", 7), F32("layers.0.k.weight", 7, 3), F32("layers.0.v.weight", 7, 3));

    [Fact]
    public void ALoadThatThrowsHalfwayLeavesNoLiveTensors()
    {
        using var dir = new TempDir();
        var model = new HalfLoadedModel();
        var e = Assert.Throws<WeightFormatException>(() =>
        {
            using var wb = WeightBuilder.Open(Cpu, File(dir));
            model.Load(wb, failing: true);
        });
        Assert.Contains("expected [4, 3]", e.Message);
        Assert.Equal(4, model.Loaded.Count);
        Assert.All(model.Loaded, t => Assert.True(t.IsDisposed, $"{t} is still live after the failed load"));
        // The file's mapping went with the last tensor.
        Assert.False(IsMapped(dir.File("m.safetensors")), "the weight file is still mapped after the failed load");
    }

    [Fact]
    public void CommitHandsOwnershipToTheModel()
    {
        using var dir = new TempDir();
        var model = new HalfLoadedModel();
        WeightSet set;
        using (var wb = WeightBuilder.Open(Cpu, File(dir)))
            set = model.Load(wb, failing: false);
        // The builder and its sources are closed; the committed tensors still read the mapping.
        Assert.Equal(6, set.Count);
        Assert.All(model.Loaded, t => Assert.False(t.IsDisposed));
        Assert.Equal(Values("layers.0.v.weight", 21), model.Loaded[5].ToArray<float>());
        Assert.Equal(new[] { 1f, 2f, 3f }, model.Loaded[3].ToArray<float>());
        Assert.True(set.ByteCount > 0);
        Assert.True(IsMapped(dir.File("m.safetensors")) || !OperatingSystem.IsLinux());
        set.Dispose();
        Assert.All(model.Loaded, t => Assert.True(t.IsDisposed));
        Assert.False(IsMapped(dir.File("m.safetensors")), "the weight file is still mapped after the model's set was disposed");
        Assert.Throws<ObjectDisposedException>(() => set.Add(Tensor.Zeros(Cpu, DType.F32, new Shape(1))));
    }

    [Fact]
    public void BuildersMadeByPpDoNotCloseTheRoot()
    {
        using var dir = new TempDir();
        using var wb = WeightBuilder.Open(Cpu, File(dir));
        var w = wb.Get("layers.0.q.weight");
        wb.Pp("layers").Dispose();
        Assert.False(w.IsDisposed);
        Assert.Equal(new Shape(7, 3), wb.Pp("layers.0").Get("k.weight").Shape);
    }

    [Fact]
    public void OpeningANonWeightFileClosesTheFilesOpenedBeforeIt()
    {
        using var dir = new TempDir();
        string good = File(dir);
        string bad = dir.File("notes.txt");
        System.IO.File.WriteAllText(bad, "not weights");
        var e = Assert.Throws<WeightFormatException>(() => WeightBuilder.Open(Cpu, good, bad));
        Assert.Contains("notes.txt", e.Message);
        Assert.False(IsMapped(good), "a source opened before the bad file leaked");
        Assert.Throws<ArgumentException>(() => WeightBuilder.FromSources(Cpu, []));
    }
}
