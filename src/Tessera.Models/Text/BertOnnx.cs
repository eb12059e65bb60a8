using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Formats.Onnx;
using Tessera.Models.Nn;

namespace Tessera.Models.Text;

/// <summary>Loads a BERT encoder from an ONNX graph exported from PyTorch (sentence-transformers' all-MiniLM-L6-v2 and
/// the like), whose initializers need not carry the published names: MatMul weights are anonymous ("927") and stored
/// transposed ([in, out]), LayerNorm is decomposed into ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add. Each weight is named by
/// its place in the graph: the embedding tables by the Gather that reads input_ids, token_type_ids or the positions;
/// the k-th MatMul with a weight operand is projection k % 6 (query, key, value, attention output, intermediate,
/// output) of layer k / 6; the k-th decomposed LayerNorm's Mul and Add constants are the embeddings' norm, then each
/// layer's attention and output norms. Where the Add after a MatMul names its bias, the name must agree.</summary>
public static class BertOnnx
{
    private static readonly string[] Projections =
        ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense"];

    /// <summary>The encoder of <paramref name="onnxPath"/>; its config is read off the graph (sizes from the tensors,
    /// heads from the constants the key projection is reshaped by; gelu, LayerNorm eps 1e-12 as BERT's).</summary>
    public static Bert Load(IBackend backend, string onnxPath)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var (names, config) = Map(onnxPath, backend);
        var renames = WeightRenames.None.With(name => names.TryGetValue(name, out var stored) ? [stored] : []);
        using var wb = WeightBuilder.Open(backend, new WeightBuilderOptions(Renames: renames), onnxPath);
        return Bert.Load(wb, config, LinearLayout.InOut);
    }

    /// <summary>The published name of each weight the encoder needs, mapped to its initializer, and the config.</summary>
    public static (IReadOnlyDictionary<string, string> Names, BertConfig Config) Map(string onnxPath, IBackend backend)
    {
        var graph = OnnxGraph.Read(onnxPath);
        using var file = OnnxFile.Open(onnxPath);
        bool Init(string n) => file.Contains(n);
        long[] Dims(string n) => [.. file.Info(n).Dims];
        var names = new Dictionary<string, string>();
        var producers = graph.Nodes.SelectMany(n => n.Outputs.Select(o => (o, n))).GroupBy(p => p.o).ToDictionary(g => g.Key, g => g.First().n);
        var consumers = graph.Nodes.SelectMany(n => n.Inputs.Select(i => (i, n))).GroupBy(p => p.i).ToDictionary(g => g.Key, g => g.Select(p => p.n).ToList());
        OnnxNode? Next(string value, string op) => consumers.TryGetValue(value, out var list) ? list.FirstOrDefault(n => n.OpType == op) : null;
        string? Constant(OnnxNode n) => n.Inputs.FirstOrDefault(Init);

        // The embedding tables: Gather(table, ids).
        foreach (var g in graph.Nodes.Where(n => n.OpType == "Gather" && n.Inputs.Count == 2 && Init(n.Inputs[0]) && Dims(n.Inputs[0]).Length == 2))
            names[g.Inputs[1] switch
            {
                "input_ids" => "embeddings.word_embeddings.weight",
                "token_type_ids" => "embeddings.token_type_embeddings.weight",
                _ => "embeddings.position_embeddings.weight",
            }] = g.Inputs[0];

        // The projections, in graph order.
        var matmuls = graph.Nodes.Where(n => n.OpType == "MatMul" && n.Inputs.Count == 2 && Init(n.Inputs[1]) && Dims(n.Inputs[1]).Length == 2).ToList();
        if (matmuls.Count == 0 || matmuls.Count % Projections.Length != 0)
            throw new WeightFormatException(onnxPath, null, $"{matmuls.Count} MatMuls with a weight operand: not {Projections.Length} per BERT layer");
        int layers = matmuls.Count / Projections.Length;
        for (int k = 0; k < matmuls.Count; k++)
        {
            string name = $"encoder.layer.{k / Projections.Length}.{Projections[k % Projections.Length]}";
            var add = Next(matmuls[k].Outputs[0], "Add")
                ?? throw new WeightFormatException(onnxPath, matmuls[k].Inputs[1], $"the MatMul taken for {name} has no Add (bias) after it");
            string bias = Constant(add) ?? throw new WeightFormatException(onnxPath, matmuls[k].Inputs[1], $"the Add after the MatMul taken for {name} adds no constant bias");
            if (bias.EndsWith(".bias", StringComparison.Ordinal) && bias != name + ".bias")
                throw new WeightFormatException(onnxPath, bias, $"follows MatMul {k}, which by its place is {name}: the graph is not a BERT encoder in the expected order");
            names[name + ".weight"] = matmuls[k].Inputs[1];
            names[name + ".bias"] = bias;
        }

        // The LayerNorms: Div(x - mean, sqrt(var + eps)) -> Mul(gamma) -> Add(beta), in graph order.
        var norms = new List<(string Gamma, string Beta)>();
        foreach (var div in graph.Nodes.Where(n => n.OpType == "Div" && n.Inputs.Count == 2 && producers.TryGetValue(n.Inputs[1], out var p) && p.OpType == "Sqrt"))
        {
            var mul = Next(div.Outputs[0], "Mul");
            var add = mul is null ? null : Next(mul.Outputs[0], "Add");
            if (mul is not null && add is not null && Constant(mul) is { } gamma && Constant(add) is { } beta) norms.Add((gamma, beta));
        }
        if (norms.Count != 1 + 2 * layers)
            throw new WeightFormatException(onnxPath, null, $"{norms.Count} decomposed LayerNorms, expected {1 + 2 * layers} for {layers} layers");
        for (int k = 0; k < norms.Count; k++)
        {
            string name = k == 0 ? "embeddings.LayerNorm" : $"encoder.layer.{(k - 1) / 2}.{(k % 2 == 1 ? "attention.output" : "output")}.LayerNorm";
            names[name + ".weight"] = norms[k].Gamma;
            names[name + ".bias"] = norms[k].Beta;
        }

        foreach (var need in new[] { "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight" })
            if (!names.ContainsKey(need)) throw new WeightFormatException(onnxPath, null, $"no Gather reads the table taken for {need}");
        var word = Dims(names["embeddings.word_embeddings.weight"]);
        int hidden = (int)word[1];
        var config = new BertConfig
        {
            VocabSize = (int)word[0], HiddenSize = hidden, NumHiddenLayers = layers,
            IntermediateSize = (int)Dims(names["encoder.layer.0.intermediate.dense.weight"])[1],
            NumAttentionHeads = Heads(graph, file, consumers, names["encoder.layer.0.attention.self.key.bias"], hidden, onnxPath, backend),
            MaxPositionEmbeddings = (int)Dims(names["embeddings.position_embeddings.weight"])[0],
            TypeVocabSize = (int)Dims(names["embeddings.token_type_embeddings.weight"])[0],
        };
        return (names, config);
    }

    // The key projection's output is reshaped to [B, S, heads, head dim]: the two constant dims in the Concat that
    // builds that shape.
    private static int Heads(OnnxGraph graph, OnnxFile file, Dictionary<string, List<OnnxNode>> consumers, string keyBias, int hidden, string path, IBackend backend)
    {
        var add = graph.Nodes.First(n => n.OpType == "Add" && n.Inputs.Contains(keyBias));
        var reshape = consumers.GetValueOrDefault(add.Outputs[0])?.FirstOrDefault(n => n.OpType == "Reshape");
        var concat = reshape is null ? null : graph.Nodes.FirstOrDefault(n => n.OpType == "Concat" && n.Outputs.Contains(reshape.Inputs[1]));
        var constants = concat?.Inputs.Where(file.Contains).Select(n => { using var t = file.Load(n, backend); return t.ToArray<long>(); }).ToList();
        if (constants is not { Count: 2 } || constants[0].Length != 1 || constants[1].Length != 1 || constants[0][0] * constants[1][0] != hidden)
            throw new WeightFormatException(path, keyBias, "cannot find the [heads, head dim] the key projection is reshaped to");
        return (int)constants[0][0];
    }
}
