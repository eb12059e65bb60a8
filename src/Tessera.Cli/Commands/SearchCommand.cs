using System.CommandLine;
using System.Globalization;
using Tessera.Models.Vision;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera search INDEX (--text T | --image F) [--top K] [--model DIR] [--json]</c>: the indexed images
/// nearest the query by cosine, best first, embedded with the index's model (or --model).</summary>
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
        var cmd = new Command("search", "Search an image index by text or by image") { indexPath, text, image, top, model, threads, backend, json };
        cmd.SetAction(pr => InspectCommand.Guard("search", () =>
        {
            string? t = pr.GetValue(text), f = pr.GetValue(image);
            if (t is null == f is null) throw new TesseraException("give --text T or --image F, one of the two");
            var index = ImageIndex.Load(pr.GetValue(indexPath)!);
            using var be = GenerateCommand.CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            using var m = EmbeddingModel.Open(be, pr.GetValue(model) ?? index.Model);
            var query = t is not null ? m.EmbedTexts([t])[0] : m.EmbedImages([f!])[0];
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
