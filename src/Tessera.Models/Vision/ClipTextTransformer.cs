using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>CLIP's text tower (transformers' CLIPTextTransformer, names under <c>text_model</c>): token and position
/// embeddings, the encoder under a causal mask, <c>final_layer_norm</c>, pooled at the end-of-text token.</summary>
public sealed class ClipTextTransformer
{
    /// <summary>The tower's config.</summary>
    public ClipTextConfig Config { get; }

    /// <summary>The token table [vocab, D].</summary>
    public Embedding TokenEmbedding { get; }

    /// <summary>The position table [max positions, D].</summary>
    public Tensor PositionEmbedding { get; }

    /// <summary>The encoder blocks (causal).</summary>
    public TransformerEncoder Encoder { get; }

    /// <summary>The final LayerNorm.</summary>
    public LayerNorm FinalNorm { get; }

    private ClipTextTransformer(ClipTextConfig config, Embedding tokens, Tensor positions, TransformerEncoder encoder, LayerNorm finalNorm) =>
        (Config, TokenEmbedding, PositionEmbedding, Encoder, FinalNorm) = (config, tokens, positions, encoder, finalNorm);

    /// <summary>Loads the tower under <paramref name="wb"/>'s prefix (<c>wb.Pp("text_model")</c>).</summary>
    public static ClipTextTransformer Load(WeightBuilder wb, ClipTextConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.HiddenSize;
        float eps = (float)config.LayerNormEps;
        var block = new TransformerBlockConfig(new AttentionConfig(d, config.NumAttentionHeads) { Causal = true }, config.IntermediateSize)
        {
            NormEps = eps, Activation = HiddenActivation.Parse(config.HiddenAct, "text_config.hidden_act"),
        };
        string summary = $"text_config: vocab_size {config.VocabSize}, hidden_size {d}, intermediate_size {config.IntermediateSize}, max_position_embeddings {config.MaxPositionEmbeddings}";
        return ConfigMismatch.Check("clip text", summary, () =>
        {
            var tokens = Embedding.Load(wb.Pp("embeddings.token_embedding"), config.VocabSize, d);
            var positions = wb.GetAs("embeddings.position_embedding.weight", DType.F32, config.MaxPositionEmbeddings, d);
            var encoder = TransformerEncoder.Load(wb.Pp("encoder.layers"), block, config.NumHiddenLayers, "text_config.num_hidden_layers");
            var norm = LayerNorm.Load(wb.Pp("final_layer_norm"), d, eps);
            return new ClipTextTransformer(config, tokens, positions, encoder, norm);
        });
    }

    /// <summary>Token ids [B, S] (i32, on the host backend; pad after the end-of-text token if the rows differ in
    /// length: the causal mask keeps padding from reaching it) to the normed last hidden state [B, S, D] and the pooled
    /// end-of-text states [B, D]. The end-of-text position is, as in transformers, the first holding
    /// <c>eos_token_id</c>, or the highest id for the legacy configs whose <c>eos_token_id</c> is 2.</summary>
    public EncoderOutput Forward(Tensor ids, bool hiddenStates = false)
    {
        var host = TextIds.Read(ids, Config.VocabSize, Config.MaxPositionEmbeddings, "clip text");
        int b = ids.Dim(0), s = ids.Dim(1);
        using var tok = TokenEmbedding.Forward(ids);
        using var pos = PositionEmbedding.Narrow(0, 0, s);
        using var x = tok + pos;
        var states = hiddenStates ? new List<Tensor>() : null;
        using var h = Encoder.Forward(x, null, null, states);
        var last = FinalNorm.Forward(h);
        var rows = new int[b];
        for (int i = 0; i < b; i++) rows[i] = i * s + EosPosition(host.AsSpan(i * s, s));
        using var flat = last.Reshape(b * s, Config.HiddenSize);
        using var at = Tensor.FromArray(ids.Backend, rows, b);
        return new EncoderOutput(last, flat.IndexSelect(0, at), states);
    }

    private int EosPosition(ReadOnlySpan<int> row)
    {
        int best = 0;
        if (Config.EosTokenId == 2)
        {
            for (int j = 1; j < row.Length; j++) if (row[j] > row[best]) best = j;   // torch.argmax: the first maximum
            return best;
        }
        int found = row.IndexOf(Config.EosTokenId);
        return found < 0 ? 0 : found;       // transformers' argmax of an all-false row is 0
    }
}
