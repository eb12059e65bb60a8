using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Formats.Gguf;
using Tessera.Quant;

namespace Tessera.Models.Conversion; // not "Convert": that would hide System.Convert in every Tessera.Models namespace

/// <summary>Converts a LLaMA-family checkpoint to a GGUF file llama.cpp loads, as its <c>convert_hf_to_gguf.py</c> and
/// <c>convert-llama2c-to-ggml</c> do: a Hugging Face directory (config.json, model.safetensors or a sharded index,
/// tokenizer.json with tokenizer_config.json) of model_type llama, mistral (both written as llama.cpp's "llama") or
/// qwen2, or a karpathy/llama2.c .bin with its tokenizer.bin. Tensors get llama.cpp's names; the "llama" architecture's
/// q/k rows are permuted for its interleaved RoPE (a llama2.c checkpoint already has that layout; qwen2 keeps Hugging
/// Face's); Llama 3 RoPE scaling becomes <c>rope_freqs.weight</c>. Tensors are converted one at a time while the file
/// is written, reading the input in place, so a checkpoint larger than memory converts (one tensor must fit).</summary>
public static class LlamaGgufConverter
{
    /// <summary>Converts <paramref name="input"/> (a Hugging Face directory or a llama2.c .bin) into <paramref name="output"/>.</summary>
    public static ConvertResult Convert(string input, string output, GgufConvertOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        options ??= new GgufConvertOptions();
        if (File.Exists(output) && Path.GetFullPath(input) == Path.GetFullPath(output)) throw new TesseraException("convert: the output would overwrite the input");
        using var source = ConvertSource.Open(input, options);
        var config = source.Config;
        foreach (var (key, problem) in config.Problems()) throw new ConfigException(source.ConfigPath, key, problem);
        LlamaRopeFrequencies.Compute(config, config.HeadDimension); // refuses a scaling kind the loader would not build

        var w = new GgufWriter();
        string name = options.Name ?? Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(input));
        LlamaGgufMetadata.Add(w, source.Architecture, config, name, options.Type);
        int tokens = 0;
        foreach (var (key, value) in source.TokenizerKeys)
        {
            w.Add(key, value);
            if (key == "tokenizer.ggml.tokens") tokens = value.Count;
        }
        if (tokens != 0 && tokens != config.VocabSize)
            throw new TesseraException($"convert: the tokenizer has {tokens} tokens but the model's vocabulary (vocab_size) is {config.VocabSize}");

        var plan = Plan(source, config, options);
        long total = plan.Sum(p => p.OutBytes), done = 0, inBytes = 0;
        int threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        for (int i = 0; i < plan.Count; i++)
        {
            var p = plan[i];
            int index = i;
            inBytes += p.Info?.ByteLength ?? 0;
            w.AddTensor(p.Name, p.Type, p.Dims, () =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                var bytes = p.Produce(threads);
                done += bytes.Length;
                options.Progress?.Report(new ConvertProgress(index + 1, plan.Count, p.Name, done, total));
                return bytes;
            });
        }
        try { w.Write(output); }
        catch (OperationCanceledException) { File.Delete(output); throw; }
        return new ConvertResult(output, source.Architecture, plan.Select(p => new ConvertedTensor(p.Name, p.Dims, p.Type, p.Source)).ToList(), inBytes, total, tokens);
    }

    private sealed record PlannedTensor(string Name, long[] Dims, GgmlType Type, string Source, TensorInfo? Info, long OutBytes, Func<int, byte[]> Produce);

    private static List<PlannedTensor> Plan(ConvertSource source, LlamaConfig config, GgufConvertOptions options)
    {
        var plan = new List<PlannedTensor>();
        if (config.RopeScaling is { Kind: "llama3" })
        {
            if (source.Architecture != "llama")
                throw new TesseraException($"convert: Llama 3 RoPE scaling is written as rope_freqs.weight, which llama.cpp's {source.Architecture} architecture does not read");
            // llama.cpp's converter writes Llama 3's per-pair divisors first, as f32.
            var div = LlamaRopeFrequencies.Llama3Divisors(config, config.HeadDimension).Select(d => (float)d).ToArray();
            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(div.AsSpan()).ToArray();
            plan.Add(new("rope_freqs.weight", [div.Length], GgmlType.F32, "rope_scaling", null, bytes.Length, _ => bytes));
        }
        var names = source.Weights.Names.Where(n => !n.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)).ToList();
        bool tied = config.TieWordEmbeddings;
        bool hasOutput = !tied && names.Contains("lm_head.weight");
        foreach (var hf in names)
        {
            if (hf == "lm_head.weight" && tied) continue; // llama.cpp reuses token_embd
            string gguf = GgufLlamaNames.ToGguf(hf)
                ?? throw new TesseraException($"convert: {source.Weights.Path}: tensor '{hf}' has no llama.cpp name (not a LLaMA-family weight)");
            var info = source.Weights.Info(hf);
            if (info.DType is not { } dt || !(dt.IsFloat() || dt.IsBlock() && BlockQuant.CanDequantize(dt)))
                throw new TesseraException($"convert: tensor '{hf}' is {info.TypeName}; the converter reads f32, f16 and bf16");
            if (info.Dims.Count is < 1 or > 2) throw new TesseraException($"convert: tensor '{hf}' has shape {info.DimsText}; LLaMA weights are 1-D or 2-D");
            var t = GgufTensorTypes.For(gguf, info.Dims, options.Type, hasOutput, options.OutputTensorType, options.TokenEmbeddingType);
            QkRowPermutation? perm = null;
            if (source.PermuteQk && hf.EndsWith("self_attn.q_proj.weight", StringComparison.Ordinal) || source.PermuteQk && hf.EndsWith("self_attn.q_proj.bias", StringComparison.Ordinal))
                perm = new QkRowPermutation(hf, info.Dims[0], config.NumAttentionHeads);
            else if (source.PermuteQk && (hf.EndsWith("self_attn.k_proj.weight", StringComparison.Ordinal) || hf.EndsWith("self_attn.k_proj.bias", StringComparison.Ordinal)))
                perm = new QkRowPermutation(hf, info.Dims[0], config.KvHeads);
            long[] dims = [.. info.Dims];
            long outBytes = GgmlBytes(t, info.ElementCount);
            if (outBytes > Array.MaxLength)
                throw new TesseraException($"convert: tensor '{hf}' {info.DimsText} takes {outBytes} bytes as {GgmlTypes.Name((uint)t)}; the converter holds one tensor in memory, at most {Array.MaxLength} bytes");
            plan.Add(new(gguf, dims, t, hf, info, outBytes, threads => TensorRows.Convert(info, dt, t, perm, threads)));
        }
        return plan;
    }

    private static long GgmlBytes(GgmlType t, long elements)
    {
        var (bs, ts) = GgmlTypes.Traits((uint)t)!.Value;
        return elements / bs * ts;
    }
}
