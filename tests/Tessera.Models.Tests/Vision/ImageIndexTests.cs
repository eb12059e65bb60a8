using Tessera.Models.Vision;

namespace Tessera.Models.Tests.Vision;

/// <summary>The image index: MaxSim scores against hand-computed values (ColPali's late interaction: the sum over query
/// tokens of the best dot product over an image's patches), the pooled index as its one-vector case, and the file
/// format (version 2 written and read, version 1 still read, damaged files refused naming the fault).</summary>
public sealed class ImageIndexTests : IDisposable
{
    private static readonly float S = MathF.Sqrt(0.5f);
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-index-").FullName;

    // In 3-D: a holds e1 and e2, b holds (e1 + e2) / sqrt 2, c holds e3 and -e1.
    private static ImageIndex ThreeImages() => new("model", ["a", "b", "c"],
        [[[1, 0, 0], [0, 1, 0]], [[S, S, 0]], [[0, 0, 1], [-1, 0, 0]]], ImageIndexKind.MultiVector, "q8_0");

    [Fact]
    public void MaxSim_is_the_sum_over_query_tokens_of_the_best_patch()
    {
        var index = ThreeImages();
        float[][] query = [[1, 0, 0], [0, 1, 0]];
        // a: 1 + 1; b: 1/sqrt2 + 1/sqrt2; c: max(0, -1) + max(0, 0) = 0.
        Assert.Equal(2.0, index.MaxSim(query, 0), 6);
        Assert.Equal(Math.Sqrt(2), index.MaxSim(query, 1), 6);
        Assert.Equal(0.0, index.MaxSim(query, 2), 6);
        var hits = index.Search(query, 2);
        Assert.Equal(["a", "b"], hits.Select(h => h.Path));
        Assert.Equal(2f, hits[0].Score, 5);
        // A query token opposite every patch of c but e3's: c's best for -e1 is -e1 itself (1), for e3 it is e3 (1).
        var c = index.Search([[-1, 0, 0], [0, 0, 1]], 3);
        Assert.Equal("c", c[0].Path);
        Assert.Equal(2f, c[0].Score, 5);
        Assert.Equal(0.0, index.MaxSim([[-1, 0, 0], [0, 0, 1]], 0), 6);   // a: max(-1, 0) + max(0, 0)
        // One query vector against one-vector entries is the cosine: the pooled index.
        var pooled = new ImageIndex("m", ["x", "y"], [new float[] { 0.6f, 0.8f }, [1, 0]]);
        var p = pooled.Search(new float[] { 1, 0 }, 2);
        Assert.Equal(["y", "x"], p.Select(h => h.Path));
        Assert.Equal(0.6f, p[1].Score, 6);
        Assert.Equal(ImageIndexKind.Pooled, pooled.Kind);
    }

    [Fact]
    public void Search_refuses_queries_of_another_width_and_no_vectors()
    {
        var index = ThreeImages();
        Assert.Contains("the query has 2 values, the index 3", Assert.Throws<TesseraException>(() => index.Search([[1, 0]], 1)).Message);
        Assert.Contains("no vectors", Assert.Throws<TesseraException>(() => index.Search(Array.Empty<float[]>(), 1)).Message);
        Assert.Contains("--top must be positive", Assert.Throws<TesseraException>(() => index.Search([[1, 0, 0]], 0)).Message);
        Assert.Contains("one vector per entry", Assert.Throws<TesseraException>(() =>
            new ImageIndex("m", ["a"], [[[1f, 0], [0f, 1]]], ImageIndexKind.Pooled)).Message);
    }

    [Fact]
    public void Version_2_files_round_trip_and_version_1_files_still_load()
    {
        var index = ThreeImages();
        string path = Path.Combine(_dir, "multi.idx");
        index.Save(path);
        var back = ImageIndex.Load(path);
        Assert.Equal(ImageIndexKind.MultiVector, back.Kind);
        Assert.Equal("q8_0", back.Quantize);
        Assert.Equal("model", back.Model);
        Assert.Equal(["a", "b", "c"], back.Paths);
        Assert.Equal([2, 1, 2], Enumerable.Range(0, 3).Select(back.VectorCount));
        Assert.Equal(new float[] { -1, 0, 0 }, back.Vector(2, 1).ToArray());

        // Version 1, as the previous release wrote it: dim, count, model, paths, one row each.
        string v1 = Path.Combine(_dir, "v1.idx");
        using (var w = new BinaryWriter(File.Create(v1)))
        {
            w.Write("TSIDX001"u8.ToArray());
            w.Write(2);
            w.Write(2);
            foreach (var s in new[] { "old-model", "p", "q" }) { w.Write(s.Length); w.Write(System.Text.Encoding.UTF8.GetBytes(s)); }
            foreach (var v in new float[] { 1, 0, 0, 1 }) w.Write(v);
        }
        var old = ImageIndex.Load(v1);
        Assert.Equal((ImageIndexKind.Pooled, "old-model", (string?)null), (old.Kind, old.Model, old.Quantize));
        Assert.Equal("q", old.Search(new float[] { 0, 1 }, 1)[0].Path);

        // Cut short, or a header that claims more vectors than the file holds.
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(Path.Combine(_dir, "cut.idx"), bytes[..^4]);
        Assert.Contains("cut short", Assert.Throws<TesseraException>(() => ImageIndex.Load(Path.Combine(_dir, "cut.idx"))).Message);
        var big = (byte[])bytes.Clone();
        BitConverter.GetBytes(1_000_000L).CopyTo(big, 20);           // total vectors, after magic, kind, dim, count
        File.WriteAllBytes(Path.Combine(_dir, "big.idx"), big);
        Assert.Contains("1000000 x 3 embeddings need", Assert.Throws<TesseraException>(() => ImageIndex.Load(Path.Combine(_dir, "big.idx"))).Message);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
