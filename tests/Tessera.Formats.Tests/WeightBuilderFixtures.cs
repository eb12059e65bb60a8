using Tessera.Quant;
using Tessera.Formats.Gguf;
using Tessera.Formats.Safetensors;

namespace Tessera.Formats.Tests;

/// <summary>Small weight files for the builder tests, with values that are a function of the name and position, so a
/// tensor read from the wrong place cannot pass.</summary>
internal static class WeightBuilderFixtures
{
    public static float[] Values(string name, int count)
    {
        var rng = new Random(name.Aggregate(17, (h, c) => h * 31 + c));
        return Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    public static WeightTensor F32(string name, params int[] dims) =>
        WeightTensor.FromValues(name, dims.Select(d => (long)d).ToArray(), Values(name, dims.Aggregate(1, (a, d) => a * d)));

    public static WeightTensor BF16(string name, params int[] dims) =>
        WeightTensor.FromValues(name, dims.Select(d => (long)d).ToArray(), Values(name, dims.Aggregate(1, (a, d) => a * d)).Select(BFloat16.FromSingle).ToArray());

    public static string WriteSafetensors(TempDir dir, string file, params WeightTensor[] tensors)
    {
        string path = dir.File(file);
        SafetensorsWriter.Write(path, tensors);
        return path;
    }

    /// <summary>A block-quantized GGUF tensor of <paramref name="type"/> quantized from <see cref="Values"/>.</summary>
    public static (string Name, GgmlType Type, long[] Dims, byte[] Bytes) Quantized(string name, DType type, int rows, int cols)
    {
        var bytes = new byte[type.ByteCount((long)rows * cols)];
        BlockQuant.Quantize(type, Values(name, rows * cols), bytes);
        return (name, GgmlTypes.FromDType(type), [rows, cols], bytes);
    }

    public static string WriteGguf(TempDir dir, string file, IEnumerable<WeightTensor> plain, params (string Name, GgmlType Type, long[] Dims, byte[] Bytes)[] quantized)
    {
        var w = new GgufWriter().Add("general.architecture", GgufValue.From("llama"));
        foreach (var t in plain) w.AddTensor(t);
        foreach (var q in quantized) w.AddTensor(q.Name, q.Type, q.Dims, () => q.Bytes);
        string path = dir.File(file);
        w.Write(path);
        return path;
    }

    /// <summary>ggml's normalised mean squared error, mse(a, b) / mse(a, 0).</summary>
    public static double Nmse(ReadOnlySpan<float> reference, ReadOnlySpan<float> actual)
    {
        Assert.Equal(reference.Length, actual.Length);
        double err = 0, norm = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = (double)reference[i] - actual[i];
            err += d * d;
            norm += (double)reference[i] * reference[i];
        }
        return err / Math.Max(norm, double.Epsilon);
    }

    /// <summary>x [m, k] @ w[n, k]^T in double.</summary>
    public static float[] LinearReference(float[] x, float[] w, int m, int k, int n)
    {
        var y = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double)x[i * k + p] * w[j * k + p];
                y[i * n + j] = (float)s;
            }
        return y;
    }
}
