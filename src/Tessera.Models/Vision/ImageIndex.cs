using System.Runtime.InteropServices;

namespace Tessera.Models.Vision;

/// <summary>What an <see cref="ImageIndex"/> holds per image.</summary>
public enum ImageIndexKind
{
    /// <summary>One pooled, L2-normalised embedding per image; search is a top-k by cosine.</summary>
    Pooled = 0,

    /// <summary>ColPali-style late interaction: every patch's projected, L2-normalised embedding per image; a query's
    /// token embeddings score an image by MaxSim (the sum over query tokens of the best dot product over its patches).</summary>
    MultiVector = 1,
}

/// <summary>An image search index: the embeddings of image files with their paths, the model that made them and the
/// quantization it was loaded with, saved as one little-endian binary file (<see cref="ImageIndexFile"/>). Each entry
/// holds one vector (<see cref="ImageIndexKind.Pooled"/>) or one per patch (<see cref="ImageIndexKind.MultiVector"/>);
/// search scores every entry by MaxSim, which for one vector per entry and one query vector is the cosine.</summary>
public sealed class ImageIndex
{
    private readonly float[] _vectors;   // every entry's vectors, entry by entry, row by row
    private readonly int[] _starts;      // entry i holds rows _starts[i] .. _starts[i + 1] - 1

    /// <summary>The model directory the embeddings came from.</summary>
    public string Model { get; }

    /// <summary>The block type the model's linears were quantized to at load ("q8_0"), or null for stored weights;
    /// queries should be embedded the same way.</summary>
    public string? Quantize { get; }

    /// <summary>Pooled or multi-vector.</summary>
    public ImageIndexKind Kind { get; }

    /// <summary>The image paths.</summary>
    public IReadOnlyList<string> Paths { get; }

    /// <summary>Embedding width.</summary>
    public int Dim { get; }

    /// <summary>Vectors over all entries.</summary>
    public int TotalVectors => _starts[^1];

    /// <summary>A pooled index: one embedding (all of one width, normalised) per path.</summary>
    public ImageIndex(string model, IReadOnlyList<string> paths, IReadOnlyList<float[]> embeddings, string? quantize = null)
        : this(model, paths, ToEntries(embeddings), ImageIndexKind.Pooled, quantize)
    {
    }

    /// <summary>An index over each path's vectors (one for <see cref="ImageIndexKind.Pooled"/>, at least one for
    /// <see cref="ImageIndexKind.MultiVector"/>; all of one width, normalised).</summary>
    public ImageIndex(string model, IReadOnlyList<string> paths, IReadOnlyList<float[][]> vectors, ImageIndexKind kind, string? quantize = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(vectors);
        if (paths.Count != vectors.Count) throw new TesseraException($"image index: {paths.Count} paths, {vectors.Count} embeddings");
        if (!Enum.IsDefined(kind)) throw new TesseraException($"image index: unknown kind {(int)kind}");
        Dim = vectors.Count == 0 || vectors[0].Length == 0 ? 0 : vectors[0][0].Length;
        _starts = new int[paths.Count + 1];
        long total = 0;
        for (int i = 0; i < vectors.Count; i++)
        {
            int n = vectors[i].Length;
            if (n == 0) throw new TesseraException($"image index: entry {i} ({paths[i]}) has no vectors");
            if (kind == ImageIndexKind.Pooled && n != 1) throw new TesseraException($"image index: a pooled index holds one vector per entry, entry {i} has {n}");
            total += n;
            if (total > int.MaxValue) throw new TesseraException($"image index: more than {int.MaxValue} vectors");
            _starts[i + 1] = (int)total;
        }
        if (total * Dim > Array.MaxLength) throw new TesseraException($"image index: {total} vectors of {Dim} values do not fit one array");
        _vectors = new float[total * Dim];
        for (int i = 0; i < vectors.Count; i++)
            for (int j = 0; j < vectors[i].Length; j++)
            {
                if (vectors[i][j].Length != Dim) throw new TesseraException($"image index: embedding {i} (vector {j}) has {vectors[i][j].Length} values, the first {Dim}");
                vectors[i][j].CopyTo(_vectors, (long)(_starts[i] + j) * Dim);
            }
        (Model, Paths, Kind, Quantize) = (model, paths, kind, string.IsNullOrEmpty(quantize) ? null : quantize);
    }

    /// <summary>How many vectors entry <paramref name="i"/> holds.</summary>
    public int VectorCount(int i) => _starts[i + 1] - _starts[i];

    /// <summary>Vector <paramref name="j"/> of entry <paramref name="i"/>.</summary>
    public ReadOnlySpan<float> Vector(int i, int j)
    {
        if ((uint)j >= (uint)VectorCount(i)) throw new ArgumentOutOfRangeException(nameof(j), $"entry {i} holds {VectorCount(i)} vectors");
        return _vectors.AsSpan((_starts[i] + j) * Dim, Dim);
    }

    /// <summary>The (first) embedding of entry <paramref name="i"/>: the pooled embedding of a pooled index.</summary>
    public ReadOnlySpan<float> Embedding(int i) => Vector(i, 0);

    /// <summary>The <paramref name="top"/> entries nearest a normalised query vector, best first, as (path, score): the
    /// cosine for a pooled index, the best patch's cosine for a multi-vector one.</summary>
    public IReadOnlyList<(string Path, float Score)> Search(float[] query, int top)
    {
        ArgumentNullException.ThrowIfNull(query);
        return Search([query], top);
    }

    /// <summary>The <paramref name="top"/> entries with the highest MaxSim against the query's token vectors, best
    /// first: score = sum over query tokens of the max over the entry's vectors of the dot product (ColPali's late
    /// interaction). Ties go to the path that sorts first.</summary>
    public IReadOnlyList<(string Path, float Score)> Search(IReadOnlyList<float[]> queryTokens, int top)
    {
        ArgumentNullException.ThrowIfNull(queryTokens);
        if (top <= 0) throw new TesseraException($"image index: --top must be positive, got {top}");
        if (queryTokens.Count == 0) throw new TesseraException("image index: the query has no vectors");
        foreach (var q in queryTokens)
            if (q.Length != Dim) throw new TesseraException($"image index: the query has {q.Length} values, the index {Dim} (another model?)");
        var scores = new (string, float)[Paths.Count];
        for (int i = 0; i < Paths.Count; i++) scores[i] = (Paths[i], (float)MaxSim(queryTokens, i));
        return [.. scores.OrderByDescending(s => s.Item2).ThenBy(s => s.Item1, StringComparer.Ordinal).Take(top)];
    }

    /// <summary>MaxSim of the query's token vectors against entry <paramref name="entry"/>.</summary>
    public double MaxSim(IReadOnlyList<float[]> queryTokens, int entry)
    {
        ArgumentNullException.ThrowIfNull(queryTokens);
        double sum = 0;
        foreach (var q in queryTokens)
        {
            double best = double.NegativeInfinity;
            for (int j = _starts[entry]; j < _starts[entry + 1]; j++)
                best = Math.Max(best, Dot(q, _vectors.AsSpan(j * Dim, Dim)));
            sum += best;
        }
        return sum;
    }

    /// <summary>Writes the index file (<see cref="ImageIndexFile"/>).</summary>
    public void Save(string path) => ImageIndexFile.Save(this, path);

    /// <summary>Reads an index file (either version); a file that is not one, or is cut short, is an error naming it.</summary>
    public static ImageIndex Load(string path) => ImageIndexFile.Load(path);

    internal ReadOnlySpan<float> AllVectors => _vectors;

    private static float[][][] ToEntries(IReadOnlyList<float[]> embeddings)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        return [.. embeddings.Select(e => new[] { e })];
    }

    // A float dot product in SIMD lanes (the vectors are normalised, so f32 accumulation is ample).
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = System.Numerics.Vector<float>.Zero;
        int w = System.Numerics.Vector<float>.Count;
        var va = MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(a);
        var vb = MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(b);
        for (int k = 0; k < va.Length; k++) sum += va[k] * vb[k];
        float s = System.Numerics.Vector.Sum(sum);
        for (int i = va.Length * w; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
