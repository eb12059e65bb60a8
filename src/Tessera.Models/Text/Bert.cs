using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;
using Tessera.Models.Vision;

namespace Tessera.Models.Text;

/// <summary>A BERT-family encoder (Devlin et al. 2019; transformers' BertModel): word, position and token-type
/// embeddings with a LayerNorm, post-LN layers, and sentence embeddings as sentence-transformers makes them (the mean
/// of the token states under the attention mask, L2-normalised). Loads Hugging Face checkpoints as published (names
/// at the root or under <c>bert.</c>) and, through <see cref="BertOnnx"/>, the weights of an exported ONNX graph.</summary>
public sealed class Bert : IDisposable
{
    private readonly WeightSet _weights;

    /// <summary>The configuration.</summary>
    public BertConfig Config { get; }

    /// <summary>embeddings.word_embeddings [vocab, D].</summary>
    public Embedding WordEmbeddings { get; }

    /// <summary>embeddings.position_embeddings [max positions, D].</summary>
    public Tensor PositionEmbeddings { get; }

    /// <summary>embeddings.token_type_embeddings [types, D].</summary>
    public Embedding TokenTypeEmbeddings { get; }

    /// <summary>embeddings.LayerNorm.</summary>
    public LayerNorm EmbeddingNorm { get; }

    /// <summary>The encoder layers.</summary>
    public IReadOnlyList<BertLayer> Layers { get; }

    private Bert(BertConfig config, Embedding words, Tensor positions, Embedding types, LayerNorm norm, BertLayer[] layers, WeightSet weights) =>
        (Config, WordEmbeddings, PositionEmbeddings, TokenTypeEmbeddings, EmbeddingNorm, Layers, _weights) = (config, words, positions, types, norm, layers, weights);

    /// <summary>Loads a Hugging Face model directory (config.json and its weights); <paramref name="options"/> can
    /// quantize the linear weights at load (the embedding tables stay as stored).</summary>
    public static Bert Load(IBackend backend, string directory, VisionLoadOptions? options = null)
    {
        var config = HfConfig.Load<BertConfig>(directory);
        using var wb = ModelDirectory.OpenWeights(backend, directory, options);
        return Load(wb, config);
    }

    /// <summary>Builds the encoder from <paramref name="wb"/> (published names, at the root or under <c>bert.</c>) and
    /// takes what it loaded; <paramref name="layout"/> is how the linear weights are stored.</summary>
    public static Bert Load(WeightBuilder wb, BertConfig config, LinearLayout layout = LinearLayout.OutIn)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        if (config.PositionEmbeddingType != "absolute")
            throw new TesseraException($"bert: position_embedding_type '{config.PositionEmbeddingType}' is not supported (absolute is)");
        var root = wb.Contains("bert.embeddings.word_embeddings.weight") ? wb.Pp("bert") : wb;
        int d = config.HiddenSize;
        string summary = $"vocab_size {config.VocabSize}, hidden_size {d}, intermediate_size {config.IntermediateSize}, max_position_embeddings {config.MaxPositionEmbeddings}, type_vocab_size {config.TypeVocabSize}, num_hidden_layers {config.NumHiddenLayers}";
        try
        {
            var e = root.Pp("embeddings");
            var words = Embedding.Load(e.Pp("word_embeddings"), config.VocabSize, d);
            var positions = e.GetAs("position_embeddings.weight", DType.F32, config.MaxPositionEmbeddings, d);
            var types = Embedding.Load(e.Pp("token_type_embeddings"), config.TypeVocabSize, d);
            var norm = LayerNorm.Load(e.Pp("LayerNorm"), d, (float)config.LayerNormEps);
            var layersWb = root.Pp("encoder.layer");
            if (layersWb.Pp(config.NumHiddenLayers).Contains("output.dense.bias"))
                throw new TesseraException($"bert: the checkpoint has a layer '{layersWb.Pp(config.NumHiddenLayers).Prefix}' past config num_hidden_layers {config.NumHiddenLayers}");
            var layers = new BertLayer[config.NumHiddenLayers];
            for (int i = 0; i < layers.Length; i++) layers[i] = BertLayer.Load(layersWb.Pp(i), config, layout);
            return new Bert(config, words, positions, types, norm, layers, wb.Commit());
        }
        catch (WeightFormatException ex)
        {
            throw new TesseraException($"bert: the checkpoint disagrees with its config ({summary}): {ex.Message}", ex);
        }
    }

    /// <summary>Token states [B, S, D] of ids [B, S] (i32); <paramref name="attentionMask"/> [B, S] (i32, 1 keep, 0
    /// padding) hides padded keys; <paramref name="tokenTypeIds"/> [B, S] defaults to segment 0.</summary>
    public Tensor Forward(Tensor ids, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Rank != 2 || ids.DType != DType.I32)
            throw new TesseraException($"bert: token ids must be i32 [B, S], got {ids.DType.Name()} {ids.Shape}");
        int b = ids.Dim(0), s = ids.Dim(1);
        if (s == 0 || s > Config.MaxPositionEmbeddings)
            throw new TesseraException($"bert: {s} tokens per row, expected 1 to {Config.MaxPositionEmbeddings} (max_position_embeddings)");
        foreach (var (t, name) in new[] { (attentionMask, "attention mask"), (tokenTypeIds, "token type ids") })
            if (t is not null && !t.Shape.Equals(ids.Shape))
                throw new TesseraException($"bert: the {name} {t.Shape} must match the ids {ids.Shape}");
        using var words = WordEmbeddings.Forward(ids);
        using var pos = PositionEmbeddings.Narrow(0, 0, s);
        using var types = tokenTypeIds is not null ? TokenTypeEmbeddings.Forward(tokenTypeIds) : TokenTypeEmbeddings.Weight.Narrow(0, 0, 1);
        using var wp = words + pos;
        using var sum = wp + types;
        var x = EmbeddingNorm.Forward(sum);
        using var mask = attentionMask is null ? null : KeyMask(attentionMask);
        foreach (var layer in Layers)
        {
            using var input = x;
            x = layer.Forward(input, mask);
        }
        return x;
    }

    /// <summary>Sentence embeddings [N, D] of token id sequences (each with its [CLS] ... [SEP], as
    /// <see cref="Formats.Tokenizers.ITokenizer.Encode"/> gives them): padded into one batch, encoded, mean-pooled over
    /// each sequence's own tokens and L2-normalised (sentence-transformers' Pooling + Normalize).</summary>
    public Tensor SentenceEmbeddings(IReadOnlyList<int[]> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (sequences.Count == 0) throw new TesseraException("bert: no sequences to embed");
        int n = sequences.Count, s = sequences.Max(q => q.Length);
        if (s == 0) throw new TesseraException("bert: every sequence is empty");
        var ids = new int[n * s];
        var keep = new int[n * s];
        var weights = new float[n * s];
        var inverseCounts = new float[n];
        for (int i = 0; i < n; i++)
        {
            var q = sequences[i];
            if (q.Length == 0) throw new TesseraException($"bert: sequence {i} is empty");
            q.CopyTo(ids, i * s);
            for (int j = 0; j < q.Length; j++) { keep[i * s + j] = 1; weights[i * s + j] = 1; }
            inverseCounts[i] = 1f / q.Length;
        }
        var backend = WordEmbeddings.Weight.Backend;
        using var idsT = Tensor.FromArray(backend, ids, n, s);
        using var maskT = Tensor.FromArray(backend, keep, n, s);
        using var states = Forward(idsT, maskT);
        using var w = Tensor.FromArray(backend, weights, n, s, 1);
        using var masked = states * w;
        using var summed = masked.Sum(1);
        using var inv = Tensor.FromArray(backend, inverseCounts, n, 1);
        using var mean = summed * inv;
        return EmbeddingMath.L2Normalize(mean);
    }

    /// <summary>Frees the weights.</summary>
    public void Dispose() => _weights.Dispose();

    // [B, S] of 1/0 -> an additive [B, 1, 1, S] mask: 0 where kept, the most negative float where padded (as
    // transformers' finfo.min).
    private static Tensor KeyMask(Tensor attentionMask)
    {
        if (attentionMask.DType != DType.I32) throw new TesseraException($"bert: the attention mask must be i32, got {attentionMask.DType.Name()}");
        var m = attentionMask.ToArray<int>();
        var add = new float[m.Length];
        for (int i = 0; i < m.Length; i++) add[i] = m[i] != 0 ? 0f : float.MinValue;
        return Tensor.FromArray(attentionMask.Backend, add, attentionMask.Dim(0), 1, 1, attentionMask.Dim(1));
    }
}
