using Tessera.Cpu;

namespace Tessera.Models.Tests.Llama;

/// <summary>Loading: a model that does not fit the memory available is refused before anything large is allocated,
/// with what it needs (weights + KV cache for the context) and what is available; progress reports the weight files
/// read through to their full size, then the layers built.</summary>
public sealed class LlamaLoadTests : IDisposable
{
    private readonly string _dir = ConvertFixture.TempDir("load");
    private readonly string _path;
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 1));

    public LlamaLoadTests()
    {
        _path = Path.Combine(_dir, "m.gguf");
        RandomLlamaGguf.Write(_path, RandomLlamaShape.LlamaGqa, seed: 61);
    }

    public void Dispose()
    {
        _cpu.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void A_model_that_does_not_fit_says_how_much_it_needs()
    {
        var s = RandomLlamaShape.LlamaGqa;
        long kv = 2L * 4 * s.Layers * s.KvHeads * (s.Dim / s.Heads) * s.Context;
        var e = Assert.Throws<TesseraException>(() => LlamaLoader.Open(_cpu, _path, new LlamaLoadOptions { AvailableMemoryBytes = 64 << 10 }));
        Assert.Contains("needs about", e.Message);
        Assert.Contains($"KV cache {LlamaMemoryEstimate.Size(kv)} for {s.Context} positions", e.Message);
        Assert.Contains($"but {LlamaMemoryEstimate.Size(64 << 10)} of memory is available", e.Message);
        Assert.Contains("available", e.Message);
        using (var wf = Formats.WeightFile.Open(_path))
        {
            var est = LlamaMemoryEstimate.Of(wf, Formats.Configs.LlamaConfigFromGguf.Read((Formats.Gguf.GgufFile)wf), s.Context, "token_embd.weight");
            Assert.Equal(kv, est.KvCacheBytes);
            Assert.Equal(wf.Names.Sum(n => wf.Info(n).ByteLength), est.WeightBytes);
            Assert.InRange(new FileInfo(_path).Length - est.WeightBytes, 0, 64 << 10); // the file is its tensors plus metadata
        }
        // A shorter context needs less; with enough memory the model loads.
        using var model = LlamaLoader.Open(_cpu, _path, new LlamaLoadOptions { ContextLength = 32, AvailableMemoryBytes = 1L << 30 });
        Assert.Equal(32, model.ContextLength);
        Assert.True(LlamaMemoryEstimate.AvailableBytes() > 0);
    }

    [Fact]
    public void Progress_reads_the_files_through_then_builds()
    {
        var seen = new List<LoadProgress>();
        using var model = LlamaLoader.Open(_cpu, _path, new LlamaLoadOptions { Progress = new Collect(seen) });
        var reading = seen.Where(p => p.Stage == "reading").ToList();
        Assert.NotEmpty(reading);
        Assert.Equal(new FileInfo(_path).Length, reading[^1].Done);
        Assert.All(reading, p => Assert.Equal(reading[^1].Total, p.Total));
        Assert.True(reading.Zip(reading.Skip(1)).All(p => p.Second.Done >= p.First.Done));
        Assert.Equal(["building", "ready"], seen.Where(p => p.Stage != "reading").Select(p => p.Stage));
        Assert.Equal("ready", seen[^1].Stage);
    }

    private sealed class Collect(List<LoadProgress> into) : IProgress<LoadProgress>
    {
        public void Report(LoadProgress value) => into.Add(value);
    }
}
