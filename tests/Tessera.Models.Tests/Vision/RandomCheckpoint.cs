using System.Text.Json;
using Tessera.Formats;
using Tessera.Formats.Safetensors;

namespace Tessera.Models.Tests.Vision;

/// <summary>Writes a model directory in the published Hugging Face layout (config.json, model.safetensors) with random
/// weights, and the inputs the reference and the tests share (inputs.safetensors) beside a case.json for the reference.</summary>
public sealed class RandomCheckpoint(string dir, int seed)
{
    private readonly Random _rng = new(seed);
    private readonly List<WeightTensor> _weights = [];
    private readonly List<WeightTensor> _inputs = [];
    private readonly Dictionary<string, float[]> _values = [];

    /// <summary>The model directory.</summary>
    public string Dir { get; } = Directory.CreateDirectory(dir).FullName;

    /// <summary>Uniform values in [center - scale, center + scale].</summary>
    public float[] Uniform(int count, float scale, float center = 0)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = center + (float)((_rng.NextDouble() * 2 - 1) * scale);
        return v;
    }

    /// <summary>A random weight under its published name.</summary>
    public void Weight(string name, float scale, params int[] shape) => Weight(name, Uniform(Count(shape), scale), shape);

    /// <summary>Given weight values.</summary>
    public void Weight(string name, float[] values, params int[] shape)
    {
        _values[name] = values;
        _weights.Add(WeightTensor.FromValues(name, shape.Select(d => (long)d).ToArray(), values));
    }

    /// <summary>The values written for a weight.</summary>
    public float[] Values(string name) => _values[name];

    /// <summary>Leaves a weight out (to test a checkpoint that lacks it).</summary>
    public void Remove(string name) => _weights.RemoveAll(w => w.Name == name);

    /// <summary>A LayerNorm's weight (near 1) and bias.</summary>
    public void Norm(string prefix, int dim)
    {
        Weight(prefix + ".weight", Uniform(dim, 0.1f, 1), dim);
        Weight(prefix + ".bias", 0.05f, dim);
    }

    /// <summary>A linear layer [outF, inF] with a bias unless <paramref name="bias"/> is false.</summary>
    public void Linear(string prefix, int inF, int outF, bool bias = true)
    {
        Weight(prefix + ".weight", 0.2f, outF, inF);
        if (bias) Weight(prefix + ".bias", 0.05f, outF);
    }

    /// <summary>A CLIP/SigLIP encoder layer (layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1/fc2).</summary>
    public void ClipLayer(string prefix, int dim, int hidden)
    {
        Norm(prefix + ".layer_norm1", dim);
        foreach (var p in new[] { "q_proj", "k_proj", "v_proj", "out_proj" }) Linear($"{prefix}.self_attn.{p}", dim, dim);
        Norm(prefix + ".layer_norm2", dim);
        Linear(prefix + ".mlp.fc1", dim, hidden);
        Linear(prefix + ".mlp.fc2", hidden, dim);
    }

    /// <summary>An f32 input (pixels) the reference reads too; returns the values.</summary>
    public float[] Input(string name, float scale, params int[] shape)
    {
        var v = Uniform(Count(shape), scale);
        _inputs.Add(WeightTensor.FromValues(name, shape.Select(d => (long)d).ToArray(), v));
        return v;
    }

    /// <summary>An i32 input (token ids).</summary>
    public void Ids(string name, int[] ids, params int[] shape) =>
        _inputs.Add(WeightTensor.FromValues(name, shape.Select(d => (long)d).ToArray(), ids));

    /// <summary>Writes config.json (an object serialised with snake_case keys as given), the weights, the inputs and
    /// case.json.</summary>
    public void Write(object config, string kind, int layer)
    {
        File.WriteAllText(Path.Combine(Dir, "config.json"), JsonSerializer.Serialize(config));
        SafetensorsWriter.Write(Path.Combine(Dir, "model.safetensors"), _weights);
        SafetensorsWriter.Write(Path.Combine(Dir, "inputs.safetensors"), _inputs);
        File.WriteAllText(Path.Combine(Dir, "case.json"), JsonSerializer.Serialize(new Dictionary<string, object> { ["kind"] = kind, ["layer"] = layer }));
    }

    private static int Count(int[] shape) => shape.Aggregate(1, (a, d) => a * d);
}
