namespace Tessera.Models.Vision;

/// <summary>Checks a batch of token ids for a text tower and reads it on the host.</summary>
internal static class TextIds
{
    /// <summary>The ids of [B, S] i32 as a flat host array; a wrong shape, an empty or too long sequence, or an id
    /// outside the vocabulary is an error naming it.</summary>
    public static int[] Read(Tensor ids, int vocab, int maxPositions, string model)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Rank != 2 || ids.DType != DType.I32)
            throw new TesseraException($"{model}: token ids must be i32 [B, S], got {ids.DType.Name()} {ids.Shape}");
        if (ids.Dim(1) == 0 || ids.Dim(1) > maxPositions)
            throw new TesseraException($"{model}: {ids.Dim(1)} tokens per row, expected 1 to {maxPositions} (max_position_embeddings)");
        var host = ids.ToArray<int>();
        for (int i = 0; i < host.Length; i++)
            if ((uint)host[i] >= (uint)vocab)
                throw new TesseraException($"{model}: token id {host[i]} at row {i / ids.Dim(1)}, position {i % ids.Dim(1)} is outside the vocabulary of {vocab}");
        return host;
    }
}
