using Tessera.Formats.Configs;

namespace Tessera.Formats.Llama2c;

/// <summary>A karpathy/llama2.c checkpoint (<c>run.c</c>'s legacy format, as <c>stories15M.bin</c> ships): seven int32
/// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means an output
/// classifier of its own follows the weights), then f32 arrays, each over all layers: token embedding, attention norms,
/// wq, wk, wv, wo, FFN norms, w1 (gate), w2 (down), w3 (up), the final norm, RoPE's cos and sin tables (skipped), and the
/// classifier when not shared. Tensors are exposed zero-copy under Hugging Face LLaMA names. Its q/k rows are Meta's
/// layout, which rotates adjacent pairs, as GGUF's.</summary>
public sealed class Llama2cFile : IWeightSource
{
    private readonly MappedFile _map;
    private readonly Dictionary<string, TensorInfo> _byName = [];
    private readonly List<string> _names = [];

    /// <summary>The model's shape, as a <see cref="LlamaConfig"/> (rms eps 1e-5 and RoPE base 10000, as run.c uses).</summary>
    public LlamaConfig Config { get; }

    /// <inheritdoc/>
    public string Path => _map.Path;

    /// <inheritdoc/>
    public string Format => "llama2.c";

    /// <inheritdoc/>
    public IReadOnlyList<string> Names => _names;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    private Llama2cFile(MappedFile map, int[] h)
    {
        _map = map;
        string path = map.Path;
        string[] keys = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
        Metadata = keys.Select((k, i) => (k, h[i])).ToDictionary(p => p.k, p => (object)p.Item2);
        int dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kvHeads = h[4], vocab = Math.Abs(h[5]), seq = h[6];
        bool shared = h[5] > 0;
        for (int i = 0; i < keys.Length; i++)
            if (h[i] == 0 || i != 5 && h[i] < 0) throw new WeightFormatException(path, null, $"header field {keys[i]} is {h[i]}, expected a positive number");
        if (dim % heads != 0 || heads % kvHeads != 0 || dim / heads % 2 != 0)
            throw new WeightFormatException(path, null, $"dim {dim}, n_heads {heads} and n_kv_heads {kvHeads} do not make whole, even heads in whole groups");
        int hd = dim / heads, kvDim = kvHeads * hd;
        long offset = HeaderBytes;
        void Add(string name, params long[] dims)
        {
            long bytes = checked(dims.Aggregate(4L, (a, b) => a * b));
            if (name.Length > 0)
            {
                _byName[name] = new TensorInfo(name, "F32", DType.F32, dims, path, offset, bytes);
                _names.Add(name);
            }
            offset = checked(offset + bytes);
        }
        string L(int i, string leaf) => $"model.layers.{i}.{leaf}.weight";
        void PerLayer(string leaf, params long[] dims) { for (int i = 0; i < layers; i++) Add(L(i, leaf), dims); }
        Add("model.embed_tokens.weight", vocab, dim);
        PerLayer("input_layernorm", dim);
        PerLayer("self_attn.q_proj", dim, dim);
        PerLayer("self_attn.k_proj", kvDim, dim);
        PerLayer("self_attn.v_proj", kvDim, dim);
        PerLayer("self_attn.o_proj", dim, dim);
        PerLayer("post_attention_layernorm", dim);
        PerLayer("mlp.gate_proj", hidden, dim);
        PerLayer("mlp.down_proj", dim, hidden);
        PerLayer("mlp.up_proj", hidden, dim);
        Add("model.norm.weight", dim);
        Add("", seq, hd / 2); // freq_cis_real: RoPE tables, rebuilt by the model
        Add("", seq, hd / 2); // freq_cis_imag
        if (!shared) Add("lm_head.weight", vocab, dim);
        if (offset != map.Length)
            throw new WeightFormatException(path, null, $"the header describes {offset} bytes of checkpoint, the file has {map.Length} (truncated, or not a legacy llama2.c .bin)");
        Config = new LlamaConfig
        {
            HiddenSize = dim, IntermediateSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads,
            VocabSize = vocab, MaxPositionEmbeddings = seq, RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = shared,
            BosTokenId = [1], EosTokenId = [2], ModelType = "llama",
        };
    }

    /// <summary>Bytes of the legacy header: seven int32.</summary>
    public const int HeaderBytes = 28;

    /// <summary>Opens and validates a legacy llama2.c checkpoint (the whole size is checked against the header).</summary>
    public static Llama2cFile Open(string path)
    {
        var map = MappedFile.Open(path);
        try
        {
            if (map.Length < HeaderBytes) throw new WeightFormatException(path, null, $"{map.Length} bytes cannot hold llama2.c's {HeaderBytes}-byte header");
            var c = map.Cursor();
            uint first = c.U32("dim");
            if (first == 0x616b3432) // "ak42": export.py's versioned formats
                throw new WeightFormatException(path, null, "a versioned llama2.c export (magic \"ak42\"); only the legacy format (export.py --version 0) is read");
            var h = new int[7];
            h[0] = (int)first;
            for (int i = 1; i < 7; i++) h[i] = (int)c.U32("the header");
            return new Llama2cFile(map, h);
        }
        catch { map.Dispose(); throw; }
    }

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <inheritdoc/>
    public TensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var i) ? i : throw new KeyNotFoundException($"{Path}: no tensor '{name}'");

    /// <inheritdoc/>
    public Tensor Load(string name, IBackend backend) => WeightLoading.Load(_map, Info(name), backend);

    /// <inheritdoc/>
    public void Dispose() => _map.Dispose();
}
