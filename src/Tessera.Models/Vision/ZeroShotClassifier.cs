namespace Tessera.Models.Vision;

/// <summary>Zero-shot image classification as the CLIP paper does it: each label's text embedding is the normalised
/// mean of its normalised embeddings under every prompt template; an image's scores are, for CLIP, the softmax over the
/// labels of exp(logit_scale) times the cosine, for SigLIP each label's own sigmoid of exp(logit_scale) times the
/// cosine plus logit_bias.</summary>
public sealed class ZeroShotClassifier
{
    private readonly EmbeddingModel _model;
    private readonly float[][] _labels;

    /// <summary>The labels, in the order given.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Embeds the labels under the templates ("{}" is the label).</summary>
    public ZeroShotClassifier(EmbeddingModel model, IReadOnlyList<string> labels, IReadOnlyList<string> templates)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(templates);
        if (model.ImageText is null) throw new TesseraException($"{model.Directory}: zero-shot labels need a CLIP or SigLIP model, this is {model.Kind}");
        if (labels.Count == 0) throw new TesseraException("zero-shot: no labels");
        if (templates.Count == 0) throw new TesseraException("zero-shot: no templates");
        _model = model;
        Labels = labels;
        _labels = new float[labels.Count][];
        for (int i = 0; i < labels.Count; i++)
        {
            var prompts = templates.Select(t => t.Replace("{}", labels[i], StringComparison.Ordinal)).ToList();
            var e = model.EmbedTexts(prompts);
            var mean = new double[e[0].Length];
            foreach (var row in e) for (int j = 0; j < mean.Length; j++) mean[j] += row[j];
            double norm = Math.Sqrt(mean.Sum(v => v * v));
            _labels[i] = mean.Select(v => (float)(norm > 0 ? v / norm : 0)).ToArray();
        }
    }

    /// <summary>Scores of one normalised image embedding against every label, in label order.</summary>
    public float[] Score(float[] image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var logits = new double[_labels.Length];
        for (int i = 0; i < _labels.Length; i++)
        {
            if (_labels[i].Length != image.Length) throw new TesseraException($"zero-shot: image embedding of {image.Length} values, label embeddings of {_labels[i].Length}");
            double cos = 0;
            for (int j = 0; j < image.Length; j++) cos += (double)image[j] * _labels[i][j];
            logits[i] = cos;
        }
        return _model.ImageText switch
        {
            Clip clip => Softmax(logits.Select(c => Math.Exp(clip.LogitScale) * c).ToArray()),
            Siglip siglip => logits.Select(c => (float)(1 / (1 + Math.Exp(-(Math.Exp(siglip.LogitScale) * c + siglip.LogitBias))))).ToArray(),
            _ => throw new TesseraException($"zero-shot: no scoring rule for {_model.Kind}"),
        };
    }

    /// <summary>A softmax in double precision.</summary>
    public static float[] Softmax(double[] logits)
    {
        double max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => (float)(v / sum)).ToArray();
    }
}
