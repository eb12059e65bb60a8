using System.CommandLine;
using System.Text.Json;
using Tessera.Models.Vision;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera embed --model DIR (--image FILE... | --text TEXT...) [--json]</c>: L2-normalised embeddings in
/// input order (CLIP/SigLIP: image_embeds or text_embeds; ViT: the final layer-normed class token; BERT: the
/// mean-pooled sentence embedding). With --json one object {"model", "embeddings", "dim"}; without, one line of
/// values per input.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "a Hugging Face model directory (CLIP, SigLIP, ViT, BERT)", Required = true };
        var images = new Option<string[]>("--image") { Description = "image files (--image a b, or --image a --image b)", AllowMultipleArgumentsPerToken = true };
        var texts = new Option<string[]>("--text") { Description = "texts", AllowMultipleArgumentsPerToken = true };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print one JSON object: model, embeddings, dim" };
        var quantize = QuantizeFlag.Create();
        var cmd = new Command("embed", "Embed images or texts with a CLIP, SigLIP, ViT or BERT model") { model, images, texts, threads, backend, quantize, json };
        cmd.SetAction(pr => InspectCommand.Guard("embed", () =>
        {
            var imageFiles = pr.GetValue(images) ?? [];
            var textList = pr.GetValue(texts) ?? [];
            if (imageFiles.Length > 0 == textList.Length > 0) throw new TesseraException("give --image FILE... or --text TEXT..., one of the two");
            string dir = pr.GetValue(model)!;
            using var be = GenerateCommand.CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            using var m = EmbeddingModel.Open(be, dir, QuantizeFlag.Options(pr, quantize));
            var e = imageFiles.Length > 0 ? m.EmbedImages(imageFiles) : m.EmbedTexts(textList);
            if (pr.GetValue(json))
            {
                VisionJson.Print(w =>
                {
                w.WriteString("model", dir);
                w.WriteStartArray("embeddings");
                foreach (var row in e)
                {
                    w.WriteStartArray();
                    foreach (var v in row) w.WriteNumberValue(v);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
                w.WriteNumber("dim", e.Length == 0 ? 0 : e[0].Length);
                });
            }
            else
                foreach (var row in e) Console.WriteLine(string.Join(' ', row.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
            return 0;
        }));
        return cmd;
    }
}

/// <summary>The <c>--quantize q8_0</c> flag of embed, classify, index and search: the model's linear weights quantized
/// to a GGUF block type at load (<see cref="VisionLoadOptions"/>).</summary>
internal static class QuantizeFlag
{
    public static Option<string?> Create() =>
        new("--quantize") { Description = "quantize the linear weights at load: q8_0 (int8 blocks of 32), q4_0, ... or none (default)" };

    public static VisionLoadOptions Options(ParseResult pr, Option<string?> flag) => VisionLoadOptions.FromQuantizeFlag(pr.GetValue(flag));
}

/// <summary>One JSON object printed to stdout with a final newline, written with Utf8JsonWriter (no reflection:
/// NativeAOT-safe); shared by embed, classify, index and search.</summary>
internal static class VisionJson
{
    public static void Print(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }
        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
