using System.CommandLine;
using System.Globalization;
using Tessera.Models.Vision;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera search INDEX (--text T | --image F) [--top K] [--model DIR] [--quantize q8_0] [--json]</c>: the
/// indexed images nearest the query, best first: by cosine in a pooled index, by MaxSim (the query's token or patch
/// vectors against each image's patch vectors) in a multi-vector one. The query is embedded with the index's model and
/// quantization unless --model or --quantize say otherwise.</summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var indexPath = new Argument<string>("INDEX") { Description = "an index file written by tessera index" };
        var text = new Option<string?>("--text") { Description = "a text query (CLIP, SigLIP)" };
        var image = new Option<string?>("--image") { Description = "an image query" };
        var top = new Option<int>("--top") { Description = "how many results", DefaultValueFactory = _ => 5 };
        var model = new Option<string?>("--model") { Description = "the model directory (default: the one the index was made with)" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print one JSON object: results with path and score" };
        var quantize = QuantizeFlag.Create();
        quantize.Description = "quantize the linear weights at load: q8_0, q4_0, ... or none (default: as the index was made)";
        var cmd = new Command("search", "Search an image index by text or by image") { indexPath, text, image, top, model, threads, backend, quantize, json };
        cmd.SetAction(pr => InspectCommand.Guard("search", () =>
        {
            string? t = pr.GetValue(text), f = pr.GetValue(image);
            if (t is null == f is null) throw new TesseraException("give --text T or --image F, one of the two");
            var index = ImageIndex.Load(pr.GetValue(indexPath)!);
            using var be = GenerateCommand.CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            var load = VisionLoadOptions.FromQuantizeFlag(pr.GetValue(quantize) ?? index.Quantize);
            using var m = EmbeddingModel.Open(be, pr.GetValue(model) ?? index.Model, load);
            IReadOnlyList<float[]> query = index.Kind == ImageIndexKind.MultiVector
                ? (t is not null ? m.EmbedTextTokens([t])[0] : m.EmbedImagePatches([f!])[0])
                : [t is not null ? m.EmbedTexts([t])[0] : m.EmbedImages([f!])[0]];
            var hits = index.Search(query, pr.GetValue(top));
            if (pr.GetValue(json))
                VisionJson.Print(w =>
                {
                    w.WriteStartArray("results");
                    foreach (var (path, score) in hits)
                    {
                        w.WriteStartObject();
                        w.WriteString("path", path);
                        w.WriteNumber("score", score);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                });
            else
                foreach (var (path, score) in hits) Console.WriteLine($"{score.ToString("F4", CultureInfo.InvariantCulture)}  {path}");
            return 0;
        }));
        return cmd;
    }
}
