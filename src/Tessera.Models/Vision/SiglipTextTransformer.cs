using Tessera.Formats;
using Tessera.Formats.Configs;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>SigLIP's text tower (transformers' SiglipTextTransformer, names under <c>text_model</c>): token and
/// position embeddings, the encoder without a causal mask, <c>final_layer_norm</c>, and a linear <c>head</c> on the last
/// position (SigLIP's processor pads every text to the same length, 64 for the published models).</summary>
public sealed class SiglipTextTransformer
{
    /// <summary>The tower's config.</summary>
    public SiglipTextConfig Config { get; }

    /// <summary>The token table [vocab, D].</summary>
    public Embedding TokenEmbedding { get; }

    /// <summary>The position table [max positions, D].</summary>
    public Tensor PositionEmbedding { get; }

    /// <summary>The encoder blocks.</summary>
    public TransformerEncoder Encoder { get; }

    /// <summary>The final LayerNorm.</summary>
    public LayerNorm FinalNorm { get; }

    /// <summary>The head on the last position [projection size, D].</summary>
    public Linear Head { get; }

    private SiglipTextTransformer(SiglipTextConfig config, Embedding tokens, Tensor positions, TransformerEncoder encoder, LayerNorm norm, Linear head) =>
        (Config, TokenEmbedding, PositionEmbedding, Encoder, FinalNorm, Head) = (config, tokens, positions, encoder, norm, head);

    /// <summary>Loads the tower under <paramref name="wb"/>'s prefix (<c>wb.Pp("text_model")</c>).</summary>
    public static SiglipTextTransformer Load(WeightBuilder wb, SiglipTextConfig config)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.HiddenSize, p = config.ProjectionSize ?? d;
        float eps = (float)config.LayerNormEps;
        var block = new TransformerBlockConfig(new AttentionConfig(d, config.NumAttentionHeads), config.IntermediateSize)
        {
            NormEps = eps, Activation = HiddenActivation.Parse(config.HiddenAct, "text_config.hidden_act"),
        };
        string summary = $"text_config: vocab_size {config.VocabSize}, hidden_size {d}, intermediate_size {config.IntermediateSize}, max_position_embeddings {config.MaxPositionEmbeddings}, projection_size {p}";
        return ConfigMismatch.Check("siglip text", summary, () =>
        {
            var tokens = Embedding.Load(wb.Pp("embeddings.token_embedding"), config.VocabSize, d);
            var positions = wb.GetAs("embeddings.position_embedding.weight", DType.F32, config.MaxPositionEmbeddings, d);
            var encoder = TransformerEncoder.Load(wb.Pp("encoder.layers"), block, config.NumHiddenLayers, "text_config.num_hidden_layers");
            var norm = LayerNorm.Load(wb.Pp("final_layer_norm"), d, eps);
            var head = Linear.Load(wb.Pp("head"), d, p);
            return new SiglipTextTransformer(config, tokens, positions, encoder, norm, head);
        });
    }

    /// <summary>Token ids [B, S] (i32) to the normed last hidden state [B, S, D] and the head of the last position [B, P].</summary>
    public EncoderOutput Forward(Tensor ids, bool hiddenStates = false)
    {
        TextIds.Read(ids, Config.VocabSize, Config.MaxPositionEmbeddings, "siglip text");
        int s = ids.Dim(1);
        using var tok = TokenEmbedding.Forward(ids);
        using var pos = PositionEmbedding.Narrow(0, 0, s);
        using var x = tok + pos;
        var states = hiddenStates ? new List<Tensor>() : null;
        using var h = Encoder.Forward(x, null, null, states);
        var last = FinalNorm.Forward(h);
        using var final = last.Select(1, s - 1);
        return new EncoderOutput(last, Head.Forward(final), states);
    }
}
