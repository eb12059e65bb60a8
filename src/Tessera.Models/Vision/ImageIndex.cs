using System.Text;

namespace Tessera.Models.Vision;

/// <summary>An image search index: L2-normalised embeddings of image files with their paths and the model that made
/// them, in one little-endian binary file:
/// <code>
/// "TSIDX001"                       8 bytes, magic and version
/// int32 dim, int32 count
/// int32 n, n bytes                 the model path (UTF-8)
/// count x (int32 n, n bytes)       the image paths (UTF-8), in index order
/// count x dim float32              the embeddings, row by row
/// </code>
/// Search is a top-k by cosine (a dot product of normalised vectors).</summary>
public sealed class ImageIndex
{
    private const string Magic = "TSIDX001";
    private const int MaxCount = 100_000_000, MaxDim = 65_536, MaxString = 1 << 16;

    /// <summary>The model directory the embeddings came from.</summary>
    public string Model { get; }

    /// <summary>The image paths.</summary>
    public IReadOnlyList<string> Paths { get; }

    /// <summary>Embedding width.</summary>
    public int Dim { get; }

    private readonly float[] _embeddings;

    /// <summary>An index over embeddings (all of one width, normalised) and their paths.</summary>
    public ImageIndex(string model, IReadOnlyList<string> paths, IReadOnlyList<float[]> embeddings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(embeddings);
        if (paths.Count != embeddings.Count) throw new TesseraException($"image index: {paths.Count} paths, {embeddings.Count} embeddings");
        Dim = embeddings.Count == 0 ? 0 : embeddings[0].Length;
        _embeddings = new float[paths.Count * Dim];
        for (int i = 0; i < embeddings.Count; i++)
        {
            if (embeddings[i].Length != Dim) throw new TesseraException($"image index: embedding {i} has {embeddings[i].Length} values, the first {Dim}");
            embeddings[i].CopyTo(_embeddings, i * Dim);
        }
        (Model, Paths) = (model, paths);
    }

    /// <summary>The embedding of entry <paramref name="i"/>.</summary>
    public ReadOnlySpan<float> Embedding(int i) => _embeddings.AsSpan(i * Dim, Dim);

    /// <summary>The <paramref name="top"/> entries nearest a normalised query, best first, as (path, cosine).</summary>
    public IReadOnlyList<(string Path, float Score)> Search(float[] query, int top)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Length != Dim) throw new TesseraException($"image index: the query has {query.Length} values, the index {Dim} (another model?)");
        if (top <= 0) throw new TesseraException($"image index: --top must be positive, got {top}");
        var scores = new (string, float)[Paths.Count];
        for (int i = 0; i < Paths.Count; i++)
        {
            double dot = 0;
            var e = Embedding(i);
            for (int j = 0; j < Dim; j++) dot += (double)e[j] * query[j];
            scores[i] = (Paths[i], (float)dot);
        }
        return [.. scores.OrderByDescending(s => s.Item2).ThenBy(s => s.Item1, StringComparer.Ordinal).Take(top)];
    }

    /// <summary>Writes the index file.</summary>
    public void Save(string path)
    {
        using var w = new BinaryWriter(File.Create(path), Encoding.UTF8);
        w.Write(Encoding.ASCII.GetBytes(Magic));
        w.Write(Dim);
        w.Write(Paths.Count);
        WriteString(w, Model);
        foreach (var p in Paths) WriteString(w, p);
        foreach (var v in _embeddings) w.Write(v);
    }

    /// <summary>Reads an index file; a file that is not one, or is cut short, is an error naming it.</summary>
    public static ImageIndex Load(string path)
    {
        if (!File.Exists(path)) throw new TesseraException($"{path}: no such index file");
        using var r = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        try
        {
            if (Encoding.ASCII.GetString(r.ReadBytes(8)) != Magic) throw new TesseraException($"{path}: not a tessera image index (no {Magic} header)");
            int dim = r.ReadInt32(), count = r.ReadInt32();
            if (dim is < 0 or > MaxDim || count is < 0 or > MaxCount) throw new TesseraException($"{path}: implausible header: dim {dim}, count {count}");
            long need = (long)dim * count * 4;
            if (need > r.BaseStream.Length) throw new TesseraException($"{path}: {count} x {dim} embeddings need {need} bytes, the file has {r.BaseStream.Length}");
            string model = ReadString(r, path);
            var paths = new string[count];
            for (int i = 0; i < count; i++) paths[i] = ReadString(r, path);
            var rows = new float[count][];
            for (int i = 0; i < count; i++)
            {
                rows[i] = new float[dim];
                for (int j = 0; j < dim; j++) rows[i][j] = r.ReadSingle();
            }
            return new ImageIndex(model, paths, rows);
        }
        catch (EndOfStreamException) { throw new TesseraException($"{path}: the index file is cut short"); }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write(b.Length);
        w.Write(b);
    }

    private static string ReadString(BinaryReader r, string path)
    {
        int n = r.ReadInt32();
        if (n is < 0 or > MaxString) throw new TesseraException($"{path}: a string of {n} bytes in the index");
        var b = r.ReadBytes(n);
        if (b.Length != n) throw new EndOfStreamException();
        return Encoding.UTF8.GetString(b);
    }
}
