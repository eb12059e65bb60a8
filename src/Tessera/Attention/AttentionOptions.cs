namespace Tessera;

/// <summary>What scaled dot-product attention computes besides q, k and v. Query i sits at key position
/// <c>QueryPosition + i</c>; by default <c>Skv - Sq</c> (bottom-right alignment, as FlashAttention 2.1+: the last
/// query is the last key, which is what decode and chunked prefill need). Query i sees key j when
/// <c>pos_i - WindowLeft &lt;= j &lt;= pos_i + WindowRight</c> (a negative limit: unbounded on that side) and, when
/// <see cref="Causal"/>, <c>j &lt;= pos_i</c>. A row that sees no key outputs zeros (and log-sum-exp -inf).</summary>
public sealed record AttentionOptions
{
    /// <summary>The default: scale 1/sqrt(D), not causal, no window.</summary>
    public static AttentionOptions Default { get; } = new();

    /// <summary>Multiplies q.k before the softmax; null means 1/sqrt(head dim).</summary>
    public float? Scale { get; init; }

    /// <summary>Hide keys after the query's position.</summary>
    public bool Causal { get; init; }

    /// <summary>Keys more than this many positions before the query are hidden; -1: none (a sliding window when set).</summary>
    public int WindowLeft { get; init; } = -1;

    /// <summary>Keys more than this many positions after the query are hidden; -1: none.</summary>
    public int WindowRight { get; init; } = -1;

    /// <summary>Key position of the first query; null: Skv - Sq (bottom-right). Ring attention sets it per block pair.</summary>
    public int? QueryPosition { get; init; }

    /// <summary>The scale for a head dim.</summary>
    public float ScaleFor(int headDim) => Scale ?? 1f / MathF.Sqrt(headDim);

    /// <summary>Key position of the first query for these lengths.</summary>
    public int QueryPositionFor(int sq, int skv) => QueryPosition ?? skv - sq;
}
