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

    private const string WriteScript = """
        import sys, collections, torch
        d = sys.argv[1]
        torch.manual_seed(0)
        base = torch.randn(65)
        sd = collections.OrderedDict()
        sd["w"] = torch.randn(3, 7)
        sd["bf"] = torch.randn(5, 3).to(torch.bfloat16)
        sd["h"] = torch.randn(1, 33).half()
        sd["f64"] = torch.randn(3, dtype=torch.float64)
        sd["i64"] = torch.arange(7) - 3
        sd["i32"] = torch.arange(17, dtype=torch.int32) - 8
        sd["i16"] = torch.arange(3, dtype=torch.int16)
        sd["i8"] = (torch.arange(17) - 8).to(torch.int8)
        sd["u8"] = torch.arange(17).to(torch.uint8)
        sd["mask"] = torch.arange(7) % 2 == 0
        sd["scalar"] = torch.tensor(3.5)
        sd["empty"] = torch.zeros(0, 3)
        sd["slice"] = base[3:20]
        sd["view"] = base.view(5, 13)
        sd["tail"] = base[10:43].view(3, 11)
        sd["transposed"] = torch.randn(7, 3).t()
        sd["every2"] = base[1::2]
        sd["expanded"] = torch.randn(3, 1).expand(3, 4)
        sd["unit"] = torch.randn(17, 1, 5)[:, :, 1:2]
        emb = torch.randn(17, 5)
        sd["emb.weight"] = emb
        sd["head.weight"] = emb
        torch.save(sd, d + "/state.pt")
        ckpt = {"model": sd, "ema": {"decay": 0.5, "weights": {"w": torch.randn(3)}}, "step": 17, "name": "run",
                "betas": (0.9, 0.999), "layers": [torch.randn(2), torch.randn(3, 3).half()], "flag": True, "none": None}
        torch.save(ckpt, d + "/nested.pth")
        torch.save(sd, d + "/legacy.pth", _use_new_zipfile_serialization=False)
        for proto in (4, 5):  # FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL instead of protocol 2's opcodes
            torch.save(sd, f"{d}/proto{proto}.pt", pickle_protocol=proto)
        """;

    [SkippableFact]
    public void CheckpointsTorchWritesReadAsTorchReadsThem()
    {
        PthTorch.RequireTorch();
        using var dir = new TempDir();
        PthTorch.Run(WriteScript, dir.Path);
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

    private const string HostileScript = """
        import sys, os, pickle, zipfile
        d, marker = sys.argv[1], sys.argv[2]
        class System:
            def __reduce__(self): return (os.system, ("touch " + marker,))
        class Eval:
            def __reduce__(self): return (eval, ("__import__('os').system('touch " + marker + "')",))
        class Exec:
            def __reduce__(self): return (exec, ("open('" + marker + "', 'w')",))
        for name, obj in [("system", System()), ("eval", Eval()), ("exec", Exec())]:
            for proto in (2, 4):
                with zipfile.ZipFile(f"{d}/{name}{proto}.pth", "w", zipfile.ZIP_STORED) as z:
                    z.writestr("archive/data.pkl", pickle.dumps({"w": obj}, protocol=proto))
                    z.writestr("archive/byteorder", "little")
        """;

    [SkippableTheory]
    [InlineData("system", "posix.system", "posix.system")]
    [InlineData("eval", "__builtin__.eval", "builtins.eval")] // protocol 2 writes Python 2's module name
    [InlineData("exec", "__builtin__.exec", "builtins.exec")]
    public void PicklesThatWouldRunCodeAreRefusedWithoutRunningIt(string which, string global2, string global4)
    {
        PthTorch.RequirePython();
        using var dir = new TempDir();
        string marker = dir.File("pwned");
        PthTorch.Run(HostileScript, dir.Path, marker);
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
        PthTorch.Run("""
            import sys, os, torch
            class Evil:
                def __reduce__(self): return (os.system, ("touch " + sys.argv[2],))
            torch.save({"w": torch.randn(3), "evil": Evil()}, sys.argv[1] + "/evil.pth")
            """, dir.Path, marker);
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
        string listing = PthTorch.Run("""
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[1]) as z:
                assert z.testzip() is None
                for i in z.infolist(): print(i.filename, i.file_size, i.compress_type)
            """, p);
        Assert.Equal(["sample/data.pkl " + pickle.Length + " 0", "sample/byteorder 6 0", .. storages.Select(s => $"sample/data/{s.Key} {s.Data.Length} 0")],
            listing.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
