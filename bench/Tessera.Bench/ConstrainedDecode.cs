using System.Diagnostics;
using System.Globalization;
using Tessera.Cpu;
using Tessera.Formats.Gguf;
using Tessera.Formats.Tokenizers;
using Tessera.Models;
using Tessera.Models.Generation;
using Tessera.Models.Generation.Constraints;

namespace Tessera.Bench;

/// <summary>`peer constrained-decode [--threads 2] [--tokens 48] [--rounds 3] [--settle-ms 300] [--temperature 1]
/// [--model FILE]`: what a JSON-schema constraint costs per decoded token on the llama-110M shape (vocab 32000; a random
/// f32 GGUF written to a temporary file unless --model names one). Free and constrained runs alternate in one process
/// (a settle pause between them, a warm-up run first); each constrained run compiles the schema anew, so its masks are
/// built cold as a new request's would be. One JSON line per mode (median decode ms/token, sampling ms/token), then a
/// summary line: overhead_pct = (constrained - free) / free decode ms/token, and mask_pct = the extra sampling time
/// over the free decode time (the part the forward's noise does not blur).</summary>
internal static class ConstrainedDecode
{
    private const string Schema = """
        {"type":"object","additionalProperties":false,"required":["items","count"],"properties":{
          "items":{"type":"array","items":{"type":"object","additionalProperties":false,"required":["name","score","tags"],
            "properties":{"name":{"type":"string"},"score":{"type":"number"},"ok":{"type":"boolean"},
              "tags":{"type":"array","items":{"type":"string","enum":["red","green","blue"]}}}}},
          "count":{"type":"integer"}}}
        """;

    public static int Run(Args args)
    {
        int threads = args.Int("threads", 2), tokens = args.Int("tokens", 48), rounds = args.Int("rounds", 3), settle = args.Int("settle-ms", 300);
        float temperature = float.Parse(args.Str("temperature", "1"), CultureInfo.InvariantCulture);
        string? path = args.Str("model", "") is { Length: > 0 } m ? m : null;
        string? temp = null;
        if (path is null)
        {
            temp = Path.Combine(Path.GetTempPath(), $"tessera-110m-{Environment.ProcessId}.gguf");
            ConstrainedDecodeModel.Write(temp, seed: 1);
            path = temp;
        }
        try
        {
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: threads));
            using var model = LlamaLoader.Open(cpu, path);
            Tokenizer tokenizer;
            using (var gguf = GgufFile.Open(path)) tokenizer = Tokenizer.FromGguf(gguf);
            var sw = Stopwatch.StartNew();
            _ = TokenTrie.For(tokenizer);
            double trieMs = sw.Elapsed.TotalMilliseconds;
            int[] prompt = tokenizer.Encode("Here is the JSON:", addSpecial: true);
            var free = new List<(double Decode, double Sample)>();
            var constrained = new List<(double Decode, double Sample)>();
            (double, double) One(bool constrain, int seed)
            {
                var options = new GenerationOptions
                {
                    MaxTokens = tokens, Temperature = temperature, Seed = seed, StopTokens = [tokenizer.EosId!.Value],
                    Constraint = constrain ? GrammarConstraint.FromJsonSchema(Schema) : null,
                };
                var stats = new GenerationStats();
                new TextGenerator(model, tokenizer).GenerateAllAsync(prompt, options, stats).GetAwaiter().GetResult();
                return (stats.DecodeMsPerToken, stats.SamplingSeconds * 1000 / Math.Max(1, stats.DecodeSteps + 1));
            }
            One(false, 0);
            One(true, 0);
            for (int r = 0; r < rounds; r++)
            {
                Thread.Sleep(settle);
                free.Add(One(false, r + 1));
                Thread.Sleep(settle);
                constrained.Add(One(true, r + 1));
            }
            double fd = Median(free.Select(x => x.Decode)), cd = Median(constrained.Select(x => x.Decode));
            double fs = Median(free.Select(x => x.Sample)), cs = Median(constrained.Select(x => x.Sample));
            string I(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
            Console.WriteLine($"{{\"engine\":\"tessera\",\"mode\":\"free\",\"threads\":{threads},\"tokens\":{tokens},\"decode_ms_per_token\":{I(fd)},\"sampling_ms_per_token\":{I(fs)}}}");
            Console.WriteLine($"{{\"engine\":\"tessera\",\"mode\":\"json-schema\",\"threads\":{threads},\"tokens\":{tokens},\"decode_ms_per_token\":{I(cd)},\"sampling_ms_per_token\":{I(cs)}}}");
            Console.WriteLine($"{{\"summary\":\"constrained-decode\",\"vocab\":{tokenizer.VocabSize},\"trie_build_ms\":{I(trieMs)},\"temperature\":{I(temperature)},\"overhead_pct\":{I(100 * (cd - fd) / fd)},\"mask_pct\":{I(100 * (cs - fs) / fd)}}}");
            return 0;
        }
        finally
        {
            if (temp is not null) File.Delete(temp);
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? 0 : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
