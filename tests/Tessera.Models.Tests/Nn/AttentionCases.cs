using Tessera.Models.Nn;

namespace Tessera.Models.Tests.Nn;

/// <summary>Writes an attention layer's random weights under its configured names, and the spec nn_reference.py's
/// written-out attention reads.</summary>
public static class AttentionCases
{
    public static Dictionary<string, object> Add(TorchReference r, string prefix, AttentionConfig cfg, int rotaryDim = 0,
        bool interleaved = false, string kind = "attention")
    {
        var n = cfg.Names;
        int d = cfg.Dim, hd = cfg.HeadDimension, qd = cfg.Heads * hd, kvd = cfg.KvHeadCount * hd, c = cfg.ContextDimension;
        void Lin(string name, int inF, int outF, bool bias)
        {
            r.Random($"{prefix}.{name}.weight", 1f / MathF.Sqrt(inF), outF, inF);
            if (bias) r.Random($"{prefix}.{name}.bias", 0.2f, outF);
        }
        Lin(n.Q, d, qd, cfg.QkvBias); Lin(n.K, c, kvd, cfg.QkvBias); Lin(n.V, c, kvd, cfg.QkvBias); Lin(n.Out, qd, d, cfg.OutBias);
        var spec = new Dictionary<string, object>
        {
            ["kind"] = kind, ["dim"] = d, ["heads"] = cfg.Heads, ["kvHeads"] = cfg.KvHeadCount, ["headDim"] = hd,
            ["contextDim"] = c, ["qkvBias"] = cfg.QkvBias, ["outBias"] = cfg.OutBias, ["causal"] = cfg.Causal,
            ["rotaryDim"] = rotaryDim, ["interleaved"] = interleaved, ["theta"] = 10000.0,
            ["names"] = new Dictionary<string, string> { ["Q"] = n.Q, ["K"] = n.K, ["V"] = n.V, ["Out"] = n.Out },
        };
        return spec;
    }

    /// <summary>An additive mask of small negative values with a few -inf entries (never a whole row).</summary>
    public static void Mask(TorchReference r, string name, Random rng, params int[] shape)
    {
        int cols = shape[^1];
        var v = new float[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < v.Length; i++)
            v[i] = i % cols != 0 && rng.Next(5) == 0 ? float.NegativeInfinity : (float)(-rng.NextDouble());
        r.Add(name, v, shape);
    }
}
