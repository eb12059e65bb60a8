using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Vision;

/// <summary>A stack of pre-LN <see cref="TransformerBlock"/>s (the encoder of ViT, CLIP, SigLIP), which can stop after
/// any layer and hand back every hidden state on the way, as transformers' <c>output_hidden_states</c> does.</summary>
public sealed class TransformerEncoder
{
    /// <summary>The blocks, in order.</summary>
    public IReadOnlyList<TransformerBlock> Layers { get; }

    /// <summary>An encoder over loaded blocks.</summary>
    public TransformerEncoder(IReadOnlyList<TransformerBlock> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0) throw new TesseraException("transformer encoder: no layers");
        Layers = layers;
    }

    /// <summary>Loads <paramref name="count"/> blocks from <c>{wb}.0</c>, <c>{wb}.1</c>, ...; a stored block at index
    /// <paramref name="count"/> means the checkpoint has more layers than its config, and that is an error naming both.</summary>
    public static TransformerEncoder Load(WeightBuilder wb, TransformerBlockConfig config, int count, string configKey = "num_hidden_layers")
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        if (count <= 0) throw new TesseraException($"config {configKey} is {count}, expected a positive number of layers");
        if (wb.Pp(count).Contains(config.Names.Norm1 + ".weight"))
            throw new TesseraException($"{wb.Path}: the checkpoint has a layer '{wb.Pp(count).FullName(config.Names.Norm1)}' past the {count} layers config {configKey} gives");
        var layers = new TransformerBlock[count];
        for (int i = 0; i < count; i++)
        {
            if (!wb.Pp(i).Contains(config.Names.Norm1 + ".weight"))
                throw new TesseraException($"{wb.Path}: config {configKey} gives {count} layers, the checkpoint has no '{wb.Pp(i).FullName(config.Names.Norm1)}.weight'");
            layers[i] = TransformerBlock.Load(wb.Pp(i), config);
        }
        return new TransformerEncoder(layers);
    }

    /// <summary>hidden_states index <paramref name="layer"/> (0: the embeddings, i: after block i; negative counts from
    /// the end as in Python, -1 the last layer, -2 the penultimate that LLaVA takes) as a number of blocks to run.</summary>
    public int BlocksFor(int layer)
    {
        int n = layer < 0 ? Layers.Count + 1 + layer : layer;
        if (n < 0 || n > Layers.Count)
            throw new TesseraException($"hidden state {layer} does not exist: the encoder has {Layers.Count} layers (indices 0..{Layers.Count} or -{Layers.Count + 1}..-1)");
        return n;
    }

    /// <summary>Runs the first <paramref name="blocks"/> blocks (all when null) over x [B, S, D]; when
    /// <paramref name="hiddenStates"/> is given, x and every block's output are added to it (the caller disposes them).</summary>
    public Tensor Forward(Tensor x, AttentionInputs? inputs = null, int? blocks = null, List<Tensor>? hiddenStates = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        int n = blocks ?? Layers.Count;
        if (n < 0 || n > Layers.Count) throw new TesseraException($"transformer encoder: {n} blocks asked of {Layers.Count}");
        hiddenStates?.Add(x.Share());
        var h = x.Share();
        for (int i = 0; i < n; i++)
        {
            using var input = h;
            h = Layers[i].Forward(input, inputs);
            hiddenStates?.Add(h.Share());
        }
        return h;
    }
}
