using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Formats.Gguf;
using Tessera.Models;
using Tessera.Models.Conversion;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera convert IN OUT [--type f16|q8_0|q4_0|q4_k|f32] [--tokenizer FILE] [--threads N] [--json]</c>:
/// a Hugging Face LLaMA-family directory or a llama2.c .bin to a GGUF file llama.cpp loads (its names, metadata and
/// tokenizer; see <see cref="LlamaGgufConverter"/>). Progress on stderr when it is a terminal; a summary at the end (one
/// JSON object with --json).</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("in") { Description = "a Hugging Face model directory (config.json, safetensors, tokenizer.json) or a llama2.c .bin" };
        var output = new Argument<string>("out") { Description = "GGUF file to write" };
        var type = new Option<string>("--type") { Description = "f16 (default), q8_0, q4_0, q4_k or f32", DefaultValueFactory = _ => "f16" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "a llama2.c checkpoint's tokenizer.bin (default: the one beside it)" };
        var threads = new Option<int>("--threads") { Description = "conversion threads (default: all cores)" };
        var json = new Option<bool>("--json") { Description = "print one JSON object at the end" };
        var cmd = new Command("convert", "Convert a Hugging Face or llama2.c LLaMA-family checkpoint to GGUF") { input, output, type, tokenizer, threads, json };
        cmd.SetAction((pr, ct) => Task.FromResult(InspectCommand.Guard("convert", () =>
            Run(pr.GetValue(input)!, pr.GetValue(output)!, pr.GetValue(type)!, pr.GetValue(tokenizer), pr.GetValue(threads), pr.GetValue(json), ct))));
        return cmd;
    }

    internal static int Run(string input, string output, string type, string? tokenizer, int threads, bool json, CancellationToken ct)
    {
        bool terminal = !json && !Console.IsErrorRedirected;
        int shown = -1;
        var progress = terminal ? new Progress(p =>
        {
            int pct = p.TotalBytes > 0 ? (int)(100 * p.Bytes / p.TotalBytes) : 100;
            if (pct == shown) return;
            shown = pct;
            Console.Error.Write($"\rconverting: {pct,3}% ({p.Index}/{p.Count} tensors, {LlamaMemoryEstimate.Size(p.Bytes)} written)   ");
        }) : null;
        var options = new GgufConvertOptions { Type = GgufConvertOptions.ParseType(type), Tokenizer = tokenizer, Threads = threads, Progress = progress };
        var result = LlamaGgufConverter.Convert(input, output, options, ct);
        if (terminal) Console.Error.Write("\r" + new string(' ', 72) + "\r");
        var types = result.Tensors.GroupBy(t => GgmlTypes.Name((uint)t.Type)).ToDictionary(g => g.Key, g => g.Count());
        if (json)
        {
            var report = new ConvertReport(result.Output, result.Architecture, type.ToLowerInvariant(), result.Tensors.Count, types, result.TokenCount, result.InputBytes, result.OutputBytes);
            Console.WriteLine(JsonSerializer.Serialize(report, Json.ConvertReport));
        }
        else
        {
            Console.WriteLine($"{result.Output}: {result.Architecture}, {result.Tensors.Count} tensors ({string.Join(", ", types.Select(t => $"{t.Value} {t.Key}"))}), " +
                $"{result.TokenCount} tokens, {InspectCommand.Bytes(result.InputBytes)} -> {InspectCommand.Bytes(result.OutputBytes)} of tensor data");
        }
        return 0;
    }

    // Synchronous progress (System.Progress<T> posts to the thread pool, out of order).
    private sealed class Progress(Action<ConvertProgress> report) : IProgress<ConvertProgress>
    {
        public void Report(ConvertProgress value) => report(value);
    }

    private static readonly ConvertJsonContext Json = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}

#pragma warning disable IDE1006 // JSON field names are snake_case keys
/// <summary>What <c>tessera convert --json</c> prints.</summary>
internal sealed record ConvertReport(string output, string architecture, string type, int tensors, Dictionary<string, int> tensor_types,
    int tokens, long input_bytes, long output_bytes);
#pragma warning restore IDE1006

/// <summary>Source-generated JSON (NativeAOT-safe).</summary>
[JsonSerializable(typeof(ConvertReport))]
internal sealed partial class ConvertJsonContext : JsonSerializerContext;
