using Tessera.Cpu;
using Tessera.Formats.Gguf;

namespace Tessera.Formats.Tests;

/// <summary>Storage.ReleaseResidency on a real mapped weight file (what lets a repacked weight replace its original
/// under a decoder's memory budget): the pages leave the process's resident set, and the bytes read afterwards are the
/// bytes before, including a page a write made private (copy-on-write: such a page must never be dropped).
/// Residency is the mapping's Rss in /proc/self/smaps.</summary>
public unsafe class MappedFileResidencyTests
{
    [SkippableFact]
    public void Released_pages_leave_memory_and_read_back_unchanged()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "MADV_PAGEOUT is Linux's");
        using var dir = new TempDir();
        string path = dir.File("w.gguf");
        const int rows = 512, cols = 4096; // 2.1 MB of Q8_0
        long bytes = DType.Q8_0.ByteCount((long)rows * cols);
        var data = new byte[bytes];
        new Random(7).NextBytes(data);
        new GgufWriter().Add("general.architecture", GgufValue.From("llama"))
            .AddTensor("blk.0.ffn_up.weight", GgmlType.Q8_0, [rows, cols], () => data.AsMemory())
            .Write(path);
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite)) fs.Flush(flushToDisk: true); // clean pages can be dropped

        using var wb = WeightBuilder.Open(CpuBackend.Default, path);
        var w = wb.Get("blk.0.ffn_up.weight", rows, cols);
        var storage = Assert.IsType<HostStorage>(w.Storage);
        Assert.True(storage.CanReleaseResidency);
        byte* p = (byte*)storage.Pointer;
        long page = Environment.SystemPageSize, written = bytes / 2;
        p[written] ^= 0x5A; // a private copy-on-write page
        data[written] ^= 0x5A;
        long sum = 0;
        for (long i = 0; i < bytes; i += page) sum += p[i];
        long before = Resident(p, bytes, page);

        Assert.True(storage.ReleaseResidency(0, bytes), "madvise(MADV_PAGEOUT) was refused");
        long after = Resident(p, bytes, page);
        Assert.True(after < before / 4, $"the mapping had {before} kB resident before the release, {after} kB after");
        Assert.True(new ReadOnlySpan<byte>(p, (int)bytes).SequenceEqual(data), "the bytes changed after the release");
        Assert.True(Resident(p, bytes, page) > before / 2, "reading every byte did not bring the pages back (the check cannot see residency)");

        Assert.False(storage.ReleaseResidency(1, page / 2), "a range holding no whole page released something");
        Assert.Throws<ArgumentOutOfRangeException>(() => storage.ReleaseResidency(bytes - 10, 20));
        GC.KeepAlive(sum);
    }

    /// <summary>A decoder's flow: a mapped Q8_0/Q4_0 weight in a set that forbids derived forms, used as a linear layer
    /// (16-row panels replace the original, whose pages leave memory) and read again afterwards, as a tied output's
    /// table is (rows gathered from the original, read back from the file; Embedding itself dequantizes a block table at
    /// load, before any product). The product matches the same weight read in place, the
    /// gathered rows match bit for bit.</summary>
    [SkippableTheory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    public void A_tied_weight_under_a_memory_budget_runs_on_panels_and_still_gathers_its_rows(DType type)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "MADV_PAGEOUT is Linux's");
        Skip.IfNot(System.Runtime.Intrinsics.X86.Avx512BW.IsSupported, "the panel path needs AVX-512BW");
        using var dir = new TempDir();
        string path = dir.File("tied.gguf");
        const int n = 3993, dim = 512; // N not a multiple of the 16-row panels
        var rng = new Random(11);
        var wf = Enumerable.Range(0, n * dim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var data = new byte[type.ByteCount((long)n * dim)];
        Tessera.Quant.BlockQuant.Quantize(type, wf, data);
        new GgufWriter().Add("general.architecture", GgufValue.From("llama"))
            .AddTensor("token_embd.weight", type == DType.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q4_0, [n, dim], () => data.AsMemory())
            .Write(path);
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite)) fs.Flush(flushToDisk: true);

        var cpu = CpuBackend.Default;
        using var wb = WeightBuilder.Open(cpu, path);
        var w = wb.Get("token_embd.weight", n, dim);
        using var set = wb.Commit();
        set.ForbidDerivedForms();
        var storage = Assert.IsType<HostStorage>(w.Storage);
        byte* p = (byte*)storage.Pointer;
        long sum = 0;
        for (long i = 0; i < data.Length; i += 4096) sum += p[i];
        long before = Resident(p, data.Length, 4096);

        using var raw = Tensor.FromArray(cpu, data, data.Length);
        using var inPlace = Tensor.FromStorage(raw.Storage, type, new Shape(n, dim)); // not constant: read in place
        var x = Enumerable.Range(0, 3 * dim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var xt = Tensor.FromArray(cpu, x, 3, dim);
        using var y = xt.Linear(w);
        using var yRef = xt.Linear(inPlace);
        long after = Resident(p, data.Length, 4096);
        Assert.True(after < before / 2, $"{type}: the mapping had {before} kB resident before the first product, {after} kB after: the original was not released");
        var got = y.ToArray<float>();
        var want = yRef.ToArray<float>();
        double err = 0, norm = 0;
        for (int i = 0; i < got.Length; i++) { err += (got[i] - want[i]) * (double)(got[i] - want[i]); norm += want[i] * (double)want[i]; }
        Assert.True(err / norm < 1e-10, $"{type}: the panel product differs from the in-place one by nmse {err / norm:E2}");

        using var ids = Tensor.FromArray(cpu, new[] { 0, 17, n - 1, 2500 }, 4);
        using var rows = w.Gather(ids);
        using var rowsRef = inPlace.Gather(ids);
        Assert.True(Bytes(rows).SequenceEqual(Bytes(rowsRef)), $"{type}: rows gathered after the release differ from the in-place weight's");
        Assert.True(new ReadOnlySpan<byte>(p, data.Length).SequenceEqual(data), $"{type}: the mapped bytes changed");
        GC.KeepAlive(sum);
    }

    [Fact]
    public void Owned_memory_cannot_release_residency()
    {
        using var t = Tensor.Zeros(CpuBackend.Default, DType.F32, new Shape(4096));
        Assert.False(t.Storage.CanReleaseResidency);
        Assert.False(t.Storage.ReleaseResidency(0, 4096));
    }

    private static ReadOnlySpan<byte> Bytes(Tensor t) =>
        new((byte*)Assert.IsType<HostStorage>(t.Storage).Pointer + t.DType.ByteCount(t.Offset), (int)t.DType.ByteCount(t.ElementCount));

    /// <summary>Resident kB of the mapping that holds <paramref name="p"/>, from /proc/self/smaps (the process's view:
    /// mincore would report the page cache, which may keep a page this process no longer maps).</summary>
    private static long Resident(byte* p, long bytes, long page)
    {
        bool inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            if (dash > 0 && line.Length > dash + 1 && char.IsAsciiHexDigit(line[0]) && line.IndexOf(' ') > dash)
            {
                var range = line[..line.IndexOf(' ')].Split('-');
                ulong lo = Convert.ToUInt64(range[0], 16), hi = Convert.ToUInt64(range[1], 16);
                inside = (ulong)p >= lo && (ulong)p < hi;
            }
            else if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
                return long.Parse(line[4..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException("no mapping in /proc/self/smaps holds the tensor");
    }}
