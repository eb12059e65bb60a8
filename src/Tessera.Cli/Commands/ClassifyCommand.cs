using System.CommandLine;
using System.Globalization;
using Tessera.Models.Vision;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera classify --model DIR --image FILE... [--labels "cat,dog" | --labels-file F] [--templates
/// default|none|FILE] [--top K] [--json]</c>: zero-shot labels with CLIP (softmax over the labels of exp(logit_scale)
/// times the cosine) or SigLIP (each label's sigmoid with logit_bias), the labels embedded under the CLIP paper's
/// ImageNet prompt ensemble by default; a ViT without labels gives the softmax over its id2label classes (with labels,
/// over those of its classes). Labels come sorted by score, all of them unless --top.</summary>
internal static class ClassifyCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "a Hugging Face model directory (CLIP, SigLIP or ViT)", Required = true };
        var images = new Option<string[]>("--image") { Description = "image files", Required = true, AllowMultipleArgumentsPerToken = true };
        var labels = new Option<string?>("--labels") { Description = "comma-separated labels" };
        var labelsFile = new Option<string?>("--labels-file") { Description = "a file of labels, one a line" };
        var templates = new Option<string>("--templates") { Description = "default (the CLIP paper's 80 ImageNet prompts), none, or a file of templates with {}", DefaultValueFactory = _ => "default" };
        var top = new Option<int?>("--top") { Description = "print only the K best labels" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print one JSON object: results per file, labels sorted by score" };
        var quantize = QuantizeFlag.Create();
        var cmd = new Command("classify", "Classify images: zero-shot labels (CLIP, SigLIP) or a ViT's classes")
            { model, images, labels, labelsFile, templates, top, threads, backend, quantize, json };
        cmd.SetAction(pr => InspectCommand.Guard("classify", () =>
        {
            var files = pr.GetValue(images)!;
            var names = Labels(pr.GetValue(labels), pr.GetValue(labelsFile));
            if (pr.GetValue(top) is <= 0) throw new TesseraException($"--top must be positive, got {pr.GetValue(top)}");
            using var be = GenerateCommand.CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            using var m = EmbeddingModel.Open(be, pr.GetValue(model)!, QuantizeFlag.Options(pr, quantize));
            var (labelNames, scores) = Score(m, files, names, pr.GetValue(templates)!);
            int k = pr.GetValue(top) ?? labelNames.Count;
            var ranked = scores.Select(s => s.Select((v, i) => (Label: labelNames[i], Score: v)).OrderByDescending(p => p.Score).Take(k).ToList()).ToList();
            if (pr.GetValue(json))
                VisionJson.Print(w =>
                {
                    w.WriteStartArray("results");
                    for (int f = 0; f < files.Length; f++)
                    {
                        w.WriteStartObject();
                        w.WriteString("file", files[f]);
                        w.WriteStartArray("labels");
                        foreach (var (label, score) in ranked[f])
                        {
                            w.WriteStartObject();
                            w.WriteString("label", label);
                            w.WriteNumber("score", score);
                            w.WriteEndObject();
                        }
                        w.WriteEndArray();
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                });
            else
                for (int f = 0; f < files.Length; f++)
                {
                    Console.WriteLine(files[f]);
                    foreach (var (label, score) in ranked[f]) Console.WriteLine($"  {score.ToString("F4", CultureInfo.InvariantCulture)}  {label}");
                }
            return 0;
        }));
        return cmd;
    }

    private static List<string>? Labels(string? list, string? file)
    {
        if (list is not null && file is not null) throw new TesseraException("give --labels or --labels-file, not both");
        IEnumerable<string>? raw = list?.Split(',') ?? (file is null ? null
            : File.Exists(file) ? File.ReadAllLines(file) : throw new TesseraException($"{file}: no such labels file"));
        var labels = raw?.Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (labels is { Count: 0 }) throw new TesseraException("no labels given");
        return labels;
    }

    private static (IReadOnlyList<string> Labels, float[][] Scores) Score(EmbeddingModel m, string[] files, List<string>? labels, string templates)
    {
        if (m.Vit is { } vit)
        {
            var probabilities = m.ClassifyImages(files);
            if (labels is null) return (vit.Labels, probabilities);
            // Only the classes named: the softmax over their logits is the full softmax renormalised over them.
            var at = labels.Select(l => vit.Labels.ToList().IndexOf(l) is >= 0 and var i ? i
                : throw new TesseraException($"'{l}' is not one of this ViT's {vit.Labels.Count} id2label classes (zero-shot labels need CLIP or SigLIP)")).ToArray();
            return (labels, probabilities.Select(p => { double s = at.Sum(i => (double)p[i]); return at.Select(i => (float)(p[i] / s)).ToArray(); }).ToArray());
        }
        if (labels is null) throw new TesseraException($"a {m.Kind} model needs --labels or --labels-file");
        var classifier = new ZeroShotClassifier(m, labels, PromptTemplates.Parse(templates));
        return (labels, m.EmbedImages(files).Select(classifier.Score).ToArray());
    }
}
