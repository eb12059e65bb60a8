using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Cpu;
using Tessera.Cuda;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;
using Tessera.Models;
using Tessera.Models.Generation;
using Tessera.Models.Generation.Constraints;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera generate --model FILE --prompt TEXT [--max-tokens N] [--temperature T] [--seed S] [sampling
/// flags: --top-k --top-p --min-p --typical --repeat-penalty --repeat-last-n --presence-penalty --frequency-penalty
/// --logit-bias ID=BIAS --stop TEXT] [--json-schema FILE | --grammar FILE] [--threads N] [--backend cpu|cuda]
/// [--json]</c>: continues the prompt with a LLaMA-family model (GGUF file or Hugging Face directory), streaming the
/// text to stdout; with --json, one object at the end (ids, text, stop reason, speeds).</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "a .gguf file or a Hugging Face model directory", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "the text to continue (special-token text is not parsed)", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "most tokens to generate", DefaultValueFactory = _ => 128 };
        var temperature = new Option<float>("--temperature") { Description = "0: greedy; above 0: sample from softmax(logits / T)", DefaultValueFactory = _ => 0f };
        var seed = new Option<int?>("--seed") { Description = "seed of the sampling draw (repeatable runs)" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print one JSON object at the end instead of streaming text" };
        var sampling = new SamplingFlags();
        var cmd = new Command("generate", "Continue a prompt with a LLaMA-family model") { model, prompt, maxTokens, temperature, seed, threads, backend, json };
        sampling.AddTo(cmd);
        cmd.SetAction((pr, ct) => Task.FromResult(InspectCommand.Guard("generate", () =>
        {
            var options = sampling.Apply(pr, new GenerationOptions { MaxTokens = pr.GetValue(maxTokens), Temperature = pr.GetValue(temperature), Seed = pr.GetValue(seed) });
            using var be = CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            return Run(pr.GetValue(model)!, pr.GetValue(prompt)!, options, be, pr.GetValue(json), Console.Out, ct);
        })));
        return cmd;
    }

    internal static IBackend CreateBackend(string name, int threads) => name switch
    {
        "cpu" => new CpuBackend(new CpuBackendOptions(Threads: threads > 0 ? threads : Environment.ProcessorCount)),
        "cuda" => CudaBackend.TryCreate(0, out var cuda, out string why) ? cuda : throw new TesseraException($"no CUDA backend: {why}"),
        _ => throw new TesseraException($"--backend must be cpu or cuda, got '{name}'"),
    };

    /// <summary>The tokenizer of a GGUF file's metadata or of a Hugging Face directory's tokenizer.json.</summary>
    internal static Tokenizer OpenTokenizer(string model)
    {
        if (Directory.Exists(model))
        {
            string json = Path.Combine(model, "tokenizer.json");
            if (!File.Exists(json)) throw new TesseraException($"{model}: the model directory has no tokenizer.json");
            return Tokenizer.FromHuggingFace(json);
        }
        if (!File.Exists(model)) throw new TesseraException($"{model}: no such file or directory");
        using var gguf = GgufFile.Open(model);
        return Tokenizer.FromGguf(gguf);
    }

    internal static int Run(string modelPath, string prompt, GenerationOptions options, IBackend backend, bool json, TextWriter output, CancellationToken ct)
    {
        var tokenizer = OpenTokenizer(modelPath);
        // BOS as the model's vocabulary asks; text that looks like a special token stays text.
        int[] promptIds = tokenizer.Encode(prompt, addSpecial: true, parseSpecial: false);
        using var model = LlamaLoader.Open(backend, modelPath);
        var stop = new HashSet<int>(tokenizer.EndOfGenerationIds);
        if (tokenizer.EosId is { } eos) stop.Add(eos);
        foreach (int id in model.Config.EosTokenId ?? []) stop.Add(id);
        options = options with { StopTokens = stop };

        var stats = new GenerationStats();
        var tokens = new List<int>();
        var text = new StringBuilder();
        var run = Task.Run(async () =>
        {
            await foreach (var t in new TextGenerator(model, tokenizer).GenerateAsync(promptIds, options, stats, ct).ConfigureAwait(false))
            {
                tokens.Add(t.Id);
                string piece = t.Text;
                text.Append(piece);
                if (!json && piece.Length > 0)
                {
                    output.Write(piece);
                    output.Flush();
                }
            }
        }, CancellationToken.None);
        try { run.GetAwaiter().GetResult(); }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        string rest = stats.TrailingText;
        text.Append(rest);
        if (!json)
        {
            output.WriteLine(rest);
            return 0;
        }
        var report = new GenerateReport(promptIds, tokens.ToArray(), text.ToString(),
            stats.Stop switch { StopReason.Eos => "eos", StopReason.Length => "length", StopReason.StopString => "stop", _ => "cancelled" },
            Math.Round(stats.PrefillTokensPerSecond, 2), Math.Round(stats.DecodeTokensPerSecond, 2), Math.Round(stats.DecodeMsPerToken, 3));
        output.WriteLine(JsonSerializer.Serialize(report, Json.GenerateReport));
        return 0;
    }

    private static readonly GenerateJsonContext Json = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}

#pragma warning disable IDE1006 // JSON field names are snake_case keys
/// <summary>What <c>tessera generate --json</c> prints: <c>prompt_tokens</c> include BOS when the model adds one,
/// <c>tokens</c> are the generated ids without the final EOS (with the token that completed a stop string), <c>text</c>
/// excludes a stop string and what follows it, <c>stop</c> is eos, length, stop (a stop string) or cancelled, <c>prefill_tok_s</c> = prompt tokens / prompt forward time,
/// <c>decode_tok_s</c> counts the tokens after the first over their time.</summary>
internal sealed record GenerateReport(int[] prompt_tokens, int[] tokens, string text, string stop,
    double prefill_tok_s, double decode_tok_s, double decode_ms_per_token);

/// <summary>What <c>tessera tokenize --json</c> prints.</summary>
internal sealed record TokenizeReport(int[] ids, string[] pieces);
#pragma warning restore IDE1006

/// <summary>Source-generated JSON (NativeAOT-safe: no reflection).</summary>
[JsonSerializable(typeof(GenerateReport))]
[JsonSerializable(typeof(TokenizeReport))]
internal sealed partial class GenerateJsonContext : JsonSerializerContext;
