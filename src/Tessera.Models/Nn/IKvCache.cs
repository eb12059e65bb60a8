namespace Tessera.Models.Nn;

/// <summary>Where an attention layer keeps the keys and values of earlier tokens. The decoder's paged cache implements
/// it; <see cref="ContiguousKvCache"/> is the simple one.</summary>
public interface IKvCache
{
    /// <summary>Positions stored for <paramref name="layer"/> so far (the position of its next token).</summary>
    int Length(int layer);

    /// <summary>Appends k and v [B, KvHeads, S, HeadDim] for <paramref name="layer"/> and returns every key and value
    /// stored for it, [B, KvHeads, Length, HeadDim] (views or new tensors the caller disposes).</summary>
    (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v);
}
