using System.Text;

namespace Tessera.Models.Vision;

/// <summary>The binary file of an <see cref="ImageIndex"/>, little-endian. Version 2 (written):
/// <code>
/// "TSIDX002"                       8 bytes, magic and version
/// int32 kind                       0 pooled, 1 multi-vector (ColPali-style patch embeddings)
/// int32 dim, int32 count, int64 total vectors
/// int32 n, n bytes                 the model path (UTF-8)
/// int32 n, n bytes                 the quantization the model was loaded with ("q8_0"; empty for none)
/// count x (int32 n, n bytes)       the image paths (UTF-8), in index order
/// count x int32                    vectors per image (1 for a pooled index)
/// total x dim float32              the vectors, image by image, row by row
/// </code>
/// Version 1 ("TSIDX001": int32 dim, int32 count, the model path, the image paths, count x dim float32; pooled) is
/// still read.</summary>
public static class ImageIndexFile
{
    private const string MagicV1 = "TSIDX001", MagicV2 = "TSIDX002";
    private const int MaxCount = 100_000_000, MaxDim = 65_536, MaxString = 1 << 16;

    /// <summary>Writes <paramref name="index"/> as version 2.</summary>
    public static void Save(ImageIndex index, string path)
    {
        ArgumentNullException.ThrowIfNull(index);
        using var w = new BinaryWriter(File.Create(path), Encoding.UTF8);
        w.Write(Encoding.ASCII.GetBytes(MagicV2));
        w.Write((int)index.Kind);
        w.Write(index.Dim);
        w.Write(index.Paths.Count);
        w.Write((long)index.TotalVectors);
        WriteString(w, index.Model);
        WriteString(w, index.Quantize ?? "");
        foreach (var p in index.Paths) WriteString(w, p);
        for (int i = 0; i < index.Paths.Count; i++) w.Write(index.VectorCount(i));
        foreach (var v in index.AllVectors) w.Write(v);
    }

    /// <summary>Reads a version 1 or 2 file; one that is not an index, has an implausible header or is cut short is an
    /// error naming it (checked before anything the header sizes is allocated).</summary>
    public static ImageIndex Load(string path)
    {
        if (!File.Exists(path)) throw new TesseraException($"{path}: no such index file");
        using var r = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        try
        {
            string magic = Encoding.ASCII.GetString(r.ReadBytes(8));
            if (magic is not (MagicV1 or MagicV2))
                throw new TesseraException($"{path}: not a tessera image index (no {MagicV2} or {MagicV1} header)");
            bool v2 = magic == MagicV2;
            int kind = v2 ? r.ReadInt32() : 0;
            if (kind is not (0 or 1)) throw new TesseraException($"{path}: unknown index kind {kind} (0 pooled, 1 multi-vector)");
            int dim = r.ReadInt32(), count = r.ReadInt32();
            long total = v2 ? r.ReadInt64() : count;
            if (dim is < 0 or > MaxDim || count is < 0 or > MaxCount || total < count || total > int.MaxValue)
                throw new TesseraException($"{path}: implausible header: dim {dim}, count {count}, vectors {total}");
            long need = total * dim * 4;
            if (need > r.BaseStream.Length) throw new TesseraException($"{path}: {total} x {dim} embeddings need {need} bytes, the file has {r.BaseStream.Length}");
            string model = ReadString(r, path);
            string quantize = v2 ? ReadString(r, path) : "";
            var paths = new string[count];
            for (int i = 0; i < count; i++) paths[i] = ReadString(r, path);
            var counts = new int[count];
            long sum = 0;
            for (int i = 0; i < count; i++)
            {
                counts[i] = v2 ? r.ReadInt32() : 1;
                if (counts[i] <= 0 || (kind == 0 && counts[i] != 1)) throw new TesseraException($"{path}: entry {i} claims {counts[i]} vectors");
                sum += counts[i];
            }
            if (sum != total) throw new TesseraException($"{path}: the entries hold {sum} vectors, the header says {total}");
            var entries = new float[count][][];
            for (int i = 0; i < count; i++)
            {
                entries[i] = new float[counts[i]][];
                for (int j = 0; j < counts[i]; j++)
                {
                    var v = entries[i][j] = new float[dim];
                    for (int k = 0; k < dim; k++) v[k] = r.ReadSingle();
                }
            }
            return new ImageIndex(model, paths, entries, (ImageIndexKind)kind, quantize);
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
