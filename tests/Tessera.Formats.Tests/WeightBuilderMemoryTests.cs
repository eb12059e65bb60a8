using Xunit.Abstractions;
using Tessera.Cpu;
using Tessera.Formats.Gguf;
using Tessera.Formats.Safetensors;

namespace Tessera.Formats.Tests;

/// <summary>The zero-copy measurement: loading every tensor of a ~400 MB file (f32, bf16 and f16 safetensors; Q4_0
/// GGUF) through the builder on the CPU and touching every page of it must not grow the process's anonymous memory.
/// RssAnon (Linux's /proc/self/status) counts private memory only: the pages of a mapped weight file are file-backed
/// page cache and show up in RssFile instead, so a builder that copied weights would add ~400 MB to RssAnon and one
/// that maps them adds nothing.</summary>
[Collection(nameof(WeightBuilderMemoryTests))] // alone: other tests' allocations would show in RssAnon
public class WeightBuilderMemoryTests(ITestOutputHelper output)
{
    private const int TensorBytes = 16 << 20;
    private const int Tensors = 25; // 400 MB
    private const long AllowedGrowth = 50L << 20;

    private static long StatusKb(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"/proc/self/status has no {field}");
    }

    private static long RssAnon() { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); return StatusKb("RssAnon") << 10; }

    private static long RssFile() => StatusKb("RssFile") << 10;

    /// <summary>One read per page of every loaded tensor, so that the whole file is resident while RssAnon is read.</summary>
    private static unsafe long TouchPages(IEnumerable<Tensor> tensors)
    {
        long sum = 0;
        foreach (var t in tensors)
        {
            var s = Assert.IsType<HostStorage>(t.Storage);
            byte* p = (byte*)s.Pointer;
            for (long i = 0; i < s.ByteLength; i += 4096) sum += p[i];
        }
        return sum;
    }

    // One shared buffer feeds every tensor, so that writing the file costs no memory per tensor.
    private static readonly Lazy<byte[]> Pattern = new(() =>
    {
        var b = new byte[TensorBytes];
        new Random(3).NextBytes(b);
        for (int i = 1; i < b.Length; i += 2) b[i] &= 0x3F; // bf16/f16 high bytes and Q4_0 scales stay finite
        return b;
    });

    private void Measure(string path, int tensors, Action<WeightBuilder, List<Tensor>> loadAll, string what)
    {
        long fileBytes = new FileInfo(path).Length;
        long anonBefore = RssAnon(), fileBefore = RssFile();
        using var wb = WeightBuilder.Open(CpuBackend.Default, path);
        var loaded = new List<Tensor>();
        loadAll(wb, loaded);
        Assert.Equal(tensors, loaded.Count);
        TouchPages(loaded);
        long anonGrowth = RssAnon() - anonBefore, fileGrowth = RssFile() - fileBefore;
        output.WriteLine($"{what}: {fileBytes >> 20} MB file, {tensors} tensors: RssAnon {anonGrowth / 1024.0 / 1024:F1} MB, RssFile {fileGrowth >> 20} MB");
        Assert.True(anonGrowth < AllowedGrowth, $"{what}: anonymous memory grew by {anonGrowth >> 20} MB loading a {fileBytes >> 20} MB file (allowed {AllowedGrowth >> 20} MB): weights were copied");
        // The control: the file's pages really were resident (counted as file-backed), so the measurement saw them.
        Assert.True(fileGrowth > fileBytes / 2, $"{what}: file-backed memory grew by only {fileGrowth >> 20} MB for a {fileBytes >> 20} MB file");
    }

    [SkippableFact]
    public void LoadingA400MbSafetensorsFileDoesNotCopyIt()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "reads RssAnon from /proc/self/status (Linux)");
        using var dir = new TempDir();
        string path = dir.File("big.safetensors");
        var tensors = Enumerable.Range(0, Tensors).Select(i => (i % 3) switch
        {
            0 => WeightTensor.FromBytes($"layers.{i}.weight", DType.F32, [1024, TensorBytes / 4 / 1024], Pattern.Value),
            1 => WeightTensor.FromBytes($"layers.{i}.weight", DType.BF16, [2048, TensorBytes / 2 / 2048], Pattern.Value),
            _ => WeightTensor.FromBytes($"layers.{i}.weight", DType.F16, [4096, TensorBytes / 2 / 4096], Pattern.Value),
        }).ToList();
        SafetensorsWriter.Write(path, tensors);
        Assert.True(new FileInfo(path).Length > 400_000_000);

        Measure(path, Tensors, (wb, loaded) =>
        {
            for (int i = 0; i < Tensors; i++) loaded.Add(wb.Pp("layers").Pp(i).Get("weight", -1, -1));
            Assert.Equal(DType.BF16, loaded[1].DType);
            Assert.Equal(DType.F16, loaded[2].DType);
        }, "safetensors f32/bf16/f16");

        // The control for the other direction: a conversion does show up in RssAnon (16 MB of bf16 -> 32 MB of f32).
        using var wb2 = WeightBuilder.Open(CpuBackend.Default, path);
        long before = RssAnon();
        var converted = wb2.GetAs("layers.1.weight", DType.F32);
        output.WriteLine($"control: bf16 16 MB -> f32 grew RssAnon by {(RssAnon() - before) >> 20} MB");
        Assert.True(RssAnon() - before > 16L << 20, $"converting 16 MB of bf16 to f32 grew anonymous memory by only {(RssAnon() - before) >> 20} MB: the measurement cannot see copies");
        Assert.Equal(DType.F32, converted.DType);
    }

    [SkippableFact]
    public void LoadingA400MbQ4_0GgufFileDoesNotCopyIt()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "reads RssAnon from /proc/self/status (Linux)");
        using var dir = new TempDir();
        string path = dir.File("big.gguf");
        // About 16 MB of Q4_0 blocks (18 bytes per 32 weights) per tensor: 4096 rows of 227 blocks.
        int cols = TensorBytes / 18 / 4096 * 32, rows = 4096;
        long bytes = DType.Q4_0.ByteCount((long)rows * cols);
        var w = new GgufWriter().Add("general.architecture", GgufValue.From("llama"));
        for (int i = 0; i < Tensors; i++)
            w.AddTensor($"blk.{i}.ffn_up.weight", GgmlType.Q4_0, [rows, cols], () => Pattern.Value.AsMemory(0, (int)bytes));
        w.Write(path);
        Assert.True(new FileInfo(path).Length > 380_000_000);

        Measure(path, Tensors, (wb, loaded) =>
        {
            for (int i = 0; i < Tensors; i++) loaded.Add(wb.Get($"blk.{i}.ffn_up.weight", rows, cols));
            Assert.All(loaded, t => Assert.Equal(DType.Q4_0, t.DType));
        }, "GGUF Q4_0");
    }
}

[CollectionDefinition(nameof(WeightBuilderMemoryTests), DisableParallelization = true)]
public sealed class WeightBuilderMemoryCollection;
