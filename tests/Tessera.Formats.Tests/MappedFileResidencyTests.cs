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

    [Fact]
    public void Owned_memory_cannot_release_residency()
    {
        using var t = Tensor.Zeros(CpuBackend.Default, DType.F32, new Shape(4096));
        Assert.False(t.Storage.CanReleaseResidency);
        Assert.False(t.Storage.ReleaseResidency(0, 4096));
    }

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
