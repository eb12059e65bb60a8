namespace Tessera.Formats.Tests;

/// <summary>.pth files against PyTorch itself: the real checkpoints in ../shared/models and checkpoints torch.save
/// writes here (nested dicts, OrderedDict, every dtype, shared storages, storage offsets, strided views); and pickles
/// that would run code, written with Python's own pickler, refused without running anything.</summary>
public class PthTorchTests
{
    [SkippableTheory]
    [InlineData("vae/taef2/taef2_encoder.pth", 79)]
    [InlineData("vae/taef2/taef2_decoder.pth", 79)]
    [InlineData("diffusion/ddpm-mnist/ddpm_mnist.pth", 29)]
    [InlineData("vision/vit-mnist/mnist_vit.pth", 19)]
    public void RealCheckpointsReadAsTorchReadsThem(string file, int tensors)
    {
        string path = Path.Combine(PthTorch.ModelsDir, file);
        Skip.IfNot(File.Exists(path), $"{path} is absent (the shared real weights are not on this machine)");
        PthTorch.RequireTorch();
        Assert.Equal("pth", WeightFile.Detect(path));
        Assert.Equal(tensors, PthTorch.AssertSameAsTorch(path));
    }

    [SkippableFact]
    public void CheckpointsTorchWritesReadAsTorchReadsThem()
    {
        PthTorch.RequireTorch();
        using var dir = new TempDir();
        PythonOracle.RunScript("pth_write.py", dir.Path);
        // 21 tensors, 6 listed but not loadable: f64 and i16 (no Tessera dtype), and the transposed, every-second,
        // expanded (stride 0) and column-sliced views.
        Assert.Equal(15, PthTorch.AssertSameAsTorch(dir.File("state.pt"), writtenHere: true));
        Assert.Equal(15 + 3, PthTorch.AssertSameAsTorch(dir.File("nested.pth"), writtenHere: true));
        Assert.Equal(15, PthTorch.AssertSameAsTorch(dir.File("proto4.pt"), writtenHere: true));
        Assert.Equal(15, PthTorch.AssertSameAsTorch(dir.File("proto5.pt"), writtenHere: true));
        using (var nested = WeightFile.Open(dir.File("nested.pth")))
        {
            Assert.Contains("model.emb.weight", nested.Names);
            Assert.Contains("ema.weights.w", nested.Names);
            Assert.Contains("layers.1", nested.Names);
            Assert.Equal("17", nested.Metadata["step"]);
            Assert.Equal("[0.9, 0.999]", nested.Metadata["betas"]);
            Assert.Equal(nested.Info("model.emb.weight").Offset, nested.Info("model.head.weight").Offset); // tied: one storage
        }
        // Through the weight builder, whose rename rules find "model.w" when a model asks for "w".
        using (var wb = WeightBuilder.Open(Tessera.Cpu.CpuBackend.Default, dir.File("nested.pth")))
        using (var direct = WeightFile.Open(dir.File("nested.pth")))
        using (var expected = direct.Load("model.w", Tessera.Cpu.CpuBackend.Default))
        {
            Assert.Equal(expected.ToArray<float>(), wb.Get("w", 3, 7).ToArray<float>());
            Assert.Equal(DType.BF16, wb.Pp("model").Get("bf", 5, 3).DType); // stored dtype kept
            Assert.Contains("transposed", Assert.Throws<WeightFormatException>(() => wb.Get("model.transposed", 3, 7)).Message);
        }
        Assert.Equal("pth", WeightFile.Detect(dir.File("legacy.pth")));
        var e = Assert.Throws<WeightFormatException>(() => WeightFile.Open(dir.File("legacy.pth")));
        Assert.Contains("legacy", e.Message);
    }

    [SkippableTheory]
    [InlineData("system", "posix.system", "posix.system")]
    [InlineData("eval", "__builtin__.eval", "builtins.eval")] // protocol 2 writes Python 2's module name
    [InlineData("exec", "__builtin__.exec", "builtins.exec")]
    public void PicklesThatWouldRunCodeAreRefusedWithoutRunningIt(string which, string global2, string global4)
    {
        PthTorch.RequirePython();
        using var dir = new TempDir();
        string marker = dir.File("pwned");
        PythonOracle.RunScript("pth_hostile.py", dir.Path, marker);
        foreach (int proto in new[] { 2, 4 })
        {
            string p = dir.File($"{which}{proto}.pth");
            Assert.Equal("pth", WeightFile.Detect(p));
            var e = Assert.Throws<WeightFormatException>(() => WeightFile.Open(p));
            Assert.Contains($"'{(proto == 2 ? global2 : global4)}'", e.Message);
            Assert.False(File.Exists(marker), $"{marker} appeared");
        }
    }

    [SkippableFact]
    public void TorchSavedObjectWithAReduceIsRefused()
    {
        PthTorch.RequireTorch();
        using var dir = new TempDir();
        string marker = dir.File("pwned");
        PythonOracle.RunScript("pth_torch_evil.py", dir.Path, marker);
        var e = Assert.Throws<WeightFormatException>(() => WeightFile.Open(dir.File("evil.pth")));
        Assert.Contains("'posix.system'", e.Message);
        Assert.False(File.Exists(marker));
    }

    [SkippableFact]
    public void Zip64ArchiveWrittenForTheTestsIsOneThatPythonReads()
    {
        // The zip64 layout of PthTestWriter, which PthFileTests reads, checked against Python's own zipfile (CRCs included).
        PthTorch.RequirePython();
        using var dir = new TempDir();
        string p = dir.File("zip64.pth");
        var (pickle, storages) = PthTestWriter.Sample();
        PthTestWriter.WriteZip64Archive(p, "sample", pickle, storages);
        string listing = PythonOracle.RunScript("pth_zip_list.py", p);
        Assert.Equal(["sample/data.pkl " + pickle.Length + " 0", "sample/byteorder 6 0", .. storages.Select(s => $"sample/data/{s.Key} {s.Data.Length} 0")],
            listing.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
