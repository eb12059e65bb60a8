namespace Tessera.Models.Nn;

/// <summary>A KV cache that runs attention over its own storage (the paged cache calls the engine's
/// <see cref="Tensor.PagedAttention"/> over its block pools): <see cref="MultiHeadAttention"/> hands it the queries and the
/// new keys and values instead of asking for every stored key as one tensor.</summary>
public interface IAttendingKvCache : IKvCache
{
    /// <summary>Stores k and v [B, KvHeads, S, HeadDim] for <paramref name="layer"/>, then returns the attention of
    /// q [B, Heads, S, HeadDim] over every position stored for it, [B, Heads, S, HeadDim].</summary>
    Tensor AppendAndAttend(int layer, Tensor q, Tensor k, Tensor v, AttentionOptions options);
}
