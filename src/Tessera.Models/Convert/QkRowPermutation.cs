namespace Tessera.Models.Conversion;

/// <summary>llama.cpp's q/k row permutation for the "llama" architecture (<c>LlamaModel.permute</c> in
/// convert_hf_to_gguf.py): Hugging Face's rotate-half rows become the interleaved rows llama.cpp's RoPE rotates in
/// adjacent pairs. Within each head of <c>hd</c> rows, GGUF row <c>2i + j</c> is Hugging Face row <c>j*hd/2 + i</c>.
/// Applies to the weights and to the biases (rows of one value) alike.</summary>
public sealed class QkRowPermutation
{
    private readonly int _headDim;

    /// <summary>The permutation of a projection of <paramref name="rows"/> rows over <paramref name="heads"/> heads.</summary>
    public QkRowPermutation(string name, long rows, int heads)
    {
        if (heads <= 0 || rows % heads != 0 || rows / heads % 2 != 0)
            throw new TesseraException($"convert: {name} has {rows} rows, not {heads} heads of an even width: cannot permute it for llama.cpp's RoPE");
        _headDim = (int)(rows / heads);
    }

    /// <summary>The source (Hugging Face) row of GGUF row <paramref name="row"/>.</summary>
    public long SourceRow(long row)
    {
        long head = row / _headDim;
        int r = (int)(row % _headDim), half = _headDim / 2;
        return head * _headDim + r % 2 * half + r / 2;
    }
}
