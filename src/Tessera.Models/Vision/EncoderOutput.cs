namespace Tessera.Models.Vision;

/// <summary>What a tower returns (transformers' BaseModelOutputWithPooling): the last hidden state, the pooled vector
/// and, when asked for, every hidden state. Disposing it disposes them all.</summary>
public sealed class EncoderOutput : IDisposable
{
    /// <summary>[B, S, D]: the last layer's output, after the final norm where the model's last_hidden_state has one
    /// (ViT, SigLIP, the text towers) and before it where it does not (CLIP's vision tower).</summary>
    public Tensor LastHiddenState { get; }

    /// <summary>[B, D]: the tower's pooled output (CLIP: the class token after post_layernorm, or the EOS token's state;
    /// SigLIP: the attention-pooling head, or the text head of the last position; ViT: the layer-normed class token).</summary>
    public Tensor Pooled { get; }

    /// <summary>transformers' hidden_states: the embeddings (entry 0) then each layer's output, [B, S, D] each;
    /// empty unless asked for.</summary>
    public IReadOnlyList<Tensor> HiddenStates { get; }

    /// <summary>An output the caller hands over (this object owns and disposes the tensors).</summary>
    public EncoderOutput(Tensor lastHiddenState, Tensor pooled, IReadOnlyList<Tensor>? hiddenStates = null)
    {
        ArgumentNullException.ThrowIfNull(lastHiddenState);
        ArgumentNullException.ThrowIfNull(pooled);
        (LastHiddenState, Pooled, HiddenStates) = (lastHiddenState, pooled, hiddenStates ?? []);
    }

    /// <summary>Disposes every tensor held.</summary>
    public void Dispose()
    {
        LastHiddenState.Dispose();
        Pooled.Dispose();
        foreach (var h in HiddenStates) h.Dispose();
    }
}
