using System.Text.Json;
using Tessera.Cpu;
using Tessera.Formats.Pytorch;

namespace Tessera.Formats.Tests;

/// <summary>PyTorch itself (Debian's python3-torch, run by <see cref="PythonOracle"/>) as the oracle for .pth files:
/// Python/pth_dump.py reports what <c>torch.load</c> finds in one (names flattened as <see cref="PthFile"/> does,
/// dtypes, shapes, strides, storage offsets, metadata, and every tensor's values as raw bytes). Tests that need it
/// skip, with the reason, where it is absent.</summary>
internal static class PthTorch
{
    /// <summary>The shared real weights, ../shared/models from the repository root.</summary>
    public static string ModelsDir { get; } = Path.GetFullPath(Path.Combine(RepoRoot(), "..", "shared", "models"));

    /// <summary>Skips the test when python3-torch (or numpy) cannot be imported.</summary>
    public static void RequireTorch()
    {
        string? why = PythonOracle.Missing("torch", "numpy");
        Skip.If(why != null, why);
    }

    /// <summary>Skips the test when /usr/bin/python3 is absent.</summary>
    public static void RequirePython() =>
        Skip.IfNot(File.Exists(PythonOracle.Python), $"{PythonOracle.Python} is absent (apt-get install python3)");

    /// <summary>Checks <paramref name="path"/> against what torch.load finds in it: the same tensors in the same order
    /// with the same dtype, shape, strides and storage offset, the same metadata, and every value equal bit for bit
    /// (loaded tensors through <see cref="IWeightSource.Load"/>, strided views gathered from the file with their
    /// strides). Returns the number of tensors loaded. <paramref name="writtenHere"/>: the test wrote the file itself,
    /// so torch may unpickle it in full; any other file is read with <c>weights_only=True</c>.</summary>
    public static int AssertSameAsTorch(string path, bool writtenHere = false)
    {
        string blobPath = Path.GetTempFileName();
        try
        {
            using var doc = JsonDocument.Parse(PythonOracle.RunScript("pth_dump.py", path, blobPath, writtenHere ? "1" : "0"));
            byte[] blob = File.ReadAllBytes(blobPath), file = File.ReadAllBytes(path);
            var expected = doc.RootElement.GetProperty("tensors").EnumerateArray().ToList();
            using var src = Assert.IsType<PthFile>(WeightFile.Open(path));
            Assert.Equal(expected.Select(e => e.GetProperty("name").GetString()), src.Names);
            var meta = doc.RootElement.GetProperty("metadata").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
            Assert.Equal(meta.OrderBy(kv => kv.Key), src.TextMetadata.OrderBy(kv => kv.Key));

            int at = 0, loaded = 0;
            foreach (var e in expected)
            {
                string name = e.GetProperty("name").GetString()!;
                var info = src.Info(name);
                int bytes = e.GetProperty("bytes").GetInt32();
                var want = blob.AsSpan(at, bytes).ToArray();
                at += bytes;
                Assert.Equal(e.GetProperty("dtype").GetString(), info.TypeName);
                Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), info.Dims);
                Assert.Equal(e.GetProperty("stride").EnumerateArray().Select(d => d.GetInt64()), src.Strides(name));
                Assert.Equal(e.GetProperty("offset").GetInt64(), src.StorageOf(name).Offset);
                bool contiguous = e.GetProperty("contiguous").GetBoolean();
                Assert.Equal(contiguous, src.IsContiguous(name));
                Assert.True(want.AsSpan().SequenceEqual(Gather(file, info, src.Strides(name))), $"{name}: the file's bytes differ from torch's values");
                if (!contiguous || info.DType is null)
                {
                    var refused = Assert.Throws<WeightFormatException>(() => src.Load(name, CpuBackend.Default));
                    Assert.Equal(name, refused.Tensor);
                    Assert.Contains(contiguous ? info.TypeName : "non-contiguous", refused.Message);
                    continue;
                }
                using var t = src.Load(name, CpuBackend.Default);
                Assert.Equal(info.ToShape(), t.Shape);
                var got = new byte[bytes];
                t.Backend.CopyToHost(t.Storage, 0, got);
                Assert.True(want.AsSpan().SequenceEqual(got), $"{name}: loaded values differ from torch's");
                loaded++;
            }
            Assert.Equal(blob.Length, at);
            return loaded;
        }
        finally { File.Delete(blobPath); }
    }

    // The view's elements in row-major order, read from the file with its strides (from the storage start it names).
    private static byte[] Gather(byte[] file, TensorInfo info, IReadOnlyList<long> strides)
    {
        int size = ElementSize(info);
        var dims = info.Dims;
        var result = new byte[info.ElementCount * size];
        var index = new long[dims.Count];
        for (long n = 0; n < info.ElementCount; n++)
        {
            long off = 0;
            for (int d = 0; d < dims.Count; d++) off += index[d] * strides[d];
            Array.Copy(file, info.Offset + off * size, result, n * size, size);
            for (int d = dims.Count - 1; d >= 0 && ++index[d] == dims[d]; d--) index[d] = 0;
        }
        return result;
    }

    private static int ElementSize(TensorInfo info) => info.TypeName switch
    {
        "float64" or "int64" => 8,
        "float32" or "int32" => 4,
        "float16" or "bfloat16" or "int16" => 2,
        _ => 1,
    };

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Runtime.sln"))) return d.FullName;
        throw new InvalidOperationException($"no Runtime.sln above {AppContext.BaseDirectory}");
    }
}
