using System.Buffers.Binary;
using System.Diagnostics;
using Tessera.Cpu;
using Tessera.Formats.Pytorch;
using Xunit.Abstractions;

namespace Tessera.Formats.Tests;

/// <summary>Mutates a valid checkpoint 2,000 times, and its zip64 form 1,000 times (seeded): byte flips, truncations, junk, length and offset fields
/// overwritten in the zip directory and local headers, and pickles mutated and re-archived so that the interpreter
/// sees them whole. Each mutant either opens, and then every tensor reads (or is refused as a strided view or an
/// unsupported dtype), or throws <see cref="WeightFormatException"/>; anything else, a crash or a hang fails.</summary>
public class PthFuzzTests(ITestOutputHelper output)
{

    private static readonly long[] Nasty =
    [
        0, 1, -1, 2, 7, 8, 21, 33, 255, 256, 65535, 0xFFFF_FFFF, int.MaxValue, (long)int.MaxValue + 1, 1L << 40,
        long.MaxValue, long.MinValue, -8,
    ];

    [Theory]
    [InlineData(false, 2000, 17)]
    [InlineData(true, 1000, 18)] // the same checkpoint with every size and offset in zip64 form
    public void MutatedCheckpointsLoadOrThrowWeightFormatException(bool zip64, int iterations, int seed)
    {
        using var dir = new TempDir();
        string path = dir.File("fuzz.pth");
        void Write(byte[] pickle, (string, byte[])[] storages)
        {
            if (zip64) PthTestWriter.WriteZip64Archive(path, "sample", pickle, storages);
            else PthTestWriter.WriteArchive(path, "sample", pickle, storages);
        }
        var sample = PthTestWriter.Sample();
        Write(sample.Pickle, sample.Storages);
        byte[] valid = File.ReadAllBytes(path);
        var (pickle, storages, zipRegion) = Parts(path);
        Assert.Equal(5, Exercise(path));

        var rng = new Random(seed);
        int ok = 0, refused = 0;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            string what = Mutate(valid, pickle, storages, zipRegion, rng, path, Write);
            try { Exercise(path); ok++; }
            catch (WeightFormatException) { refused++; }
            catch (Exception e)
            {
                Assert.Fail($"mutation {i} ({what}) threw {e.GetType().Name} instead of WeightFormatException: {e.Message}\n{e.StackTrace}");
            }
        }
        output.WriteLine($"pth{(zip64 ? " (zip64)" : "")}: {iterations} mutations, {ok} loaded, {refused} refused, {sw.ElapsedMilliseconds} ms");
        Assert.True(refused > iterations / 4, $"only {refused} of {iterations} mutations were refused");
        Assert.True(ok > iterations / 20, $"only {ok} of {iterations} mutations loaded: the mutations do not reach the tensors");
    }

    /// <summary>The valid file's pickle, its storages, and where its zip directory and end records lie.</summary>
    private static (byte[] Pickle, (string, byte[])[] Storages, (int Start, int End) Directory) Parts(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        using var map = MappedFile.Open(path);
        var entries = ZipDirectory.Read(map);
        byte[] Data(ZipEntry e) => file.AsSpan((int)e.DataOffset, (int)e.Length).ToArray();
        var pkl = entries.Single(e => e.Name.EndsWith("data.pkl"));
        var storages = entries.Where(e => e.Name.Contains("/data/")).Select(e => (e.Name[(e.Name.LastIndexOf('/') + 1)..], Data(e))).ToArray();
        int dirStart = (int)entries.Max(e => e.DataOffset + e.Length);
        return (Data(pkl), storages, (dirStart, file.Length));
    }

    private static string Mutate(byte[] valid, byte[] pickle, (string, byte[])[] storages, (int Start, int End) zipDir, Random rng, string path,
        Action<byte[], (string, byte[])[]> write)
    {
        int kind = rng.Next(6);
        if (kind >= 3) // the pickle, mutated, in a well-formed archive: the interpreter and the flattening see it all
        {
            var p = (byte[])pickle.Clone();
            string what;
            int pos = rng.Next(p.Length);
            switch (kind)
            {
                case 3:
                    int n = 1 + rng.Next(4);
                    for (int i = 0; i < n; i++) p[rng.Next(p.Length)] ^= (byte)(1 + rng.Next(255));
                    what = $"pickle: flip {n} bytes";
                    break;
                case 4:
                    long v = Nasty[rng.Next(Nasty.Length)];
                    int width = new[] { 1, 2, 4, 8 }[rng.Next(4)];
                    pos = Math.Min(pos, p.Length - width);
                    Span<byte> le = stackalloc byte[8];
                    BinaryPrimitives.WriteInt64LittleEndian(le, v);
                    le[..width].CopyTo(p.AsSpan(pos));
                    what = $"pickle: {width}-byte field {v} at {pos}";
                    break;
                default:
                    p = rng.Next(2) == 0 ? p[..pos] : [.. p[..pos], .. p[rng.Next(p.Length)..]];
                    what = $"pickle: cut or splice at {pos}";
                    break;
            }
            write(p, storages);
            return what;
        }

        var d = (byte[])valid.Clone();
        switch (kind)
        {
            case 0:
                File.WriteAllBytes(path, d[..rng.Next(d.Length)]);
                return "truncate";
            case 1:
                {
                    int n = 1 + rng.Next(8);
                    for (int i = 0; i < n; i++) d[rng.Next(d.Length)] ^= (byte)(1 + rng.Next(255));
                    File.WriteAllBytes(path, d);
                    return $"flip {n} bytes";
                }
            default: // a 2-, 4- or 8-byte size / offset / count field of the directory or a local header
                {
                    long v = rng.Next(3) == 0 ? valid.Length + rng.Next(-64, 64) : Nasty[rng.Next(Nasty.Length)];
                    int width = new[] { 2, 4, 8 }[rng.Next(3)];
                    int pos = rng.Next(2) == 0 ? rng.Next(zipDir.Start, zipDir.End - width) : rng.Next(0, 64);
                    Span<byte> le = stackalloc byte[8];
                    BinaryPrimitives.WriteInt64LittleEndian(le, v);
                    le[..width].CopyTo(d.AsSpan(pos));
                    File.WriteAllBytes(path, d);
                    return $"{width}-byte field {v} at {pos}";
                }
        }
    }

    /// <summary>Opens the file and reads every loadable tensor completely, as a model load would.</summary>
    private static int Exercise(string path)
    {
        int loaded = 0;
        using var src = (PthFile)WeightFile.Open(path);
        foreach (var name in src.Names)
        {
            var info = src.Info(name);
            _ = src.Strides(name);
            if (info.DType is null || !src.IsContiguous(name))
            {
                Assert.Throws<WeightFormatException>(() => src.Load(name, CpuBackend.Default));
                continue;
            }
            using var t = src.Load(name, CpuBackend.Default);
            var bytes = new byte[info.ByteLength];
            t.Backend.CopyToHost(t.Storage, 0, bytes);
            loaded++;
        }
        return loaded;
    }
}
