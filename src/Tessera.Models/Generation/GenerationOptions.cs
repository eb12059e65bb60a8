namespace Tessera.Models.Generation;

/// <summary>How <see cref="TextGenerator"/> picks and stops.</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens generated (the stop reason is then <see cref="StopReason.Length"/>).</summary>
    public int MaxTokens { get; init; } = 128;

    /// <summary>0: greedy (the most likely token, the first on ties, as llama.cpp's greedy sampler); above 0: sample from
    /// softmax(logits / temperature).</summary>
    public float Temperature { get; init; }

    /// <summary>Seeds the sampling draw, so that a seeded run repeats exactly; null: a random seed.</summary>
    public int? Seed { get; init; }

    /// <summary>Token ids that end generation (the model's EOS); they are not part of the output.</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];

    /// <summary>Keep keys and values in a <see cref="PagedKvCache"/> (blocks, paged attention) instead of one contiguous
    /// buffer per layer.</summary>
    public bool PagedCache { get; init; }

    /// <summary>Throws naming the bad value.</summary>
    public void Validate()
    {
        if (MaxTokens < 0) throw new TesseraException($"generation: max tokens must be 0 or more, got {MaxTokens}");
        if (!(Temperature >= 0) || float.IsInfinity(Temperature))
            throw new TesseraException($"generation: the temperature must be a finite number >= 0, got {Temperature}");
    }
}

/// <summary>Why generation ended.</summary>
public enum StopReason
{
    /// <summary>The model produced a stop (EOS) token.</summary>
    Eos,
    /// <summary>The token limit or the end of the context was reached.</summary>
    Length,
}

/// <summary>One generated token.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Index">0 for the first generated token, then 1, 2, ...</param>
public readonly record struct GeneratedToken(int Id, int Index);
