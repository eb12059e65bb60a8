using System.CommandLine;
using Tessera.Models.Vision;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera index DIR --model MODEL -o|--out INDEX [--multi-vector] [--quantize q8_0] [--json]</c>: embeds
/// every image under DIR (PNG, JPEG, BMP, GIF, TGA; in path order) into one index file (<see cref="ImageIndexFile"/>;
/// the format is in the README): one pooled embedding per image, or with --multi-vector every patch's (ColPali-style,
/// searched by MaxSim). A file that does not decode is skipped and named on stderr.</summary>
internal static class IndexCommand
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga"];

    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "the folder of images (searched recursively)" };
        var model = new Option<string>("--model") { Description = "a CLIP, SigLIP or ViT model directory", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "the index file to write", Required = true };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print one JSON object: index, kind, count, dim, vectors, skipped" };
        var multi = new Option<bool>("--multi-vector") { Description = "keep every patch's embedding (ColPali-style late interaction, CLIP and SigLIP); search scores by MaxSim" };
        var quantize = QuantizeFlag.Create();
        var cmd = new Command("index", "Index a folder of images for search") { dir, model, output, threads, backend, multi, quantize, json };
        cmd.SetAction(pr => InspectCommand.Guard("index", () =>
        {
            string root = pr.GetValue(dir)!;
            if (!Directory.Exists(root)) throw new TesseraException($"{root}: no such folder");
            var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Select(Path.GetFullPath).OrderBy(f => f, StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new TesseraException($"{root}: no images ({string.Join(", ", Extensions)})");
            string modelDir = Path.GetFullPath(pr.GetValue(model)!);
            using var be = GenerateCommand.CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            var load = QuantizeFlag.Options(pr, quantize);
            using var m = EmbeddingModel.Open(be, modelDir, load);
            bool multiVector = pr.GetValue(multi);
            if (multiVector && m.MultiVector is null)
                throw new TesseraException($"{modelDir}: --multi-vector needs per-patch vectors in a text space: multi-vector retrieval needs CLIP or SigLIP, this is {m.Kind}");
            Func<IReadOnlyList<string>, float[][][]> embed = multiVector ? fs => m.EmbedImagePatches(fs) : fs => [.. m.EmbedImages(fs).Select(e => new[] { e })];
            var paths = new List<string>();
            var rows = new List<float[][]>();
            var skipped = new List<string>();
            foreach (var chunk in files.Chunk(8))
            {
                float[][][] e;
                try { e = embed(chunk); }
                catch (TesseraException)
                {
                    // One bad file in the chunk: embed them one by one to find it.
                    foreach (var f in chunk)
                        try { rows.Add(embed([f])[0]); paths.Add(f); }
                        catch (TesseraException ex) { skipped.Add(f); Console.Error.WriteLine($"tessera index: skipped {f}: {ex.Message}"); }
                    continue;
                }
                rows.AddRange(e);
                paths.AddRange(chunk);
            }
            var index = new ImageIndex(modelDir, paths, rows, multiVector ? ImageIndexKind.MultiVector : ImageIndexKind.Pooled, load.QuantizeLinears?.Name());
            index.Save(pr.GetValue(output)!);
            if (pr.GetValue(json))
                VisionJson.Print(w =>
                {
                    w.WriteString("index", pr.GetValue(output));
                    w.WriteString("kind", multiVector ? "multi-vector" : "pooled");
                    w.WriteNumber("count", paths.Count);
                    w.WriteNumber("dim", index.Dim);
                    w.WriteNumber("vectors", index.TotalVectors);
                    w.WriteStartArray("skipped");
                    foreach (var s in skipped) w.WriteStringValue(s);
                    w.WriteEndArray();
                });
            else Console.WriteLine($"{paths.Count} images, {index.TotalVectors} vectors of {index.Dim} dims -> {pr.GetValue(output)}");
            return 0;
        }));
        return cmd;
    }
}
