namespace Tessera.Models.Tests.Vision;

/// <summary>The issue's bars: embeddings agree with the reference when every row's cosine is at least 0.99999,
/// logits when the largest difference is under 1e-4.</summary>
public static class VisionAssert
{
    public static double MinCosine(string what, Tensor actual, (float[] Values, int[] Shape) expected, double bar = 0.99999)
    {
        Assert.True(actual.Shape.Dims.ToArray().SequenceEqual(expected.Shape),
            $"{what}: shape {actual.Shape}, the reference has [{string.Join(", ", expected.Shape)}]");
        var a = actual.ToFloatArray();
        int d = expected.Shape[^1], rows = a.Length / d;
        double worst = 1;
        for (int r = 0; r < rows; r++)
        {
            double dot = 0, na = 0, nb = 0;
            for (int i = r * d; i < (r + 1) * d; i++)
            {
                dot += (double)a[i] * expected.Values[i];
                na += (double)a[i] * a[i];
                nb += (double)expected.Values[i] * expected.Values[i];
            }
            worst = Math.Min(worst, dot / Math.Sqrt(na * nb));
        }
        Assert.True(worst >= bar, $"{what}: the lowest row cosine is {worst:F8}, below {bar}");
        return worst;
    }

    public static double MaxAbs(string what, Tensor actual, (float[] Values, int[] Shape) expected, double bar = 1e-4)
    {
        Assert.True(actual.Shape.Dims.ToArray().SequenceEqual(expected.Shape),
            $"{what}: shape {actual.Shape}, the reference has [{string.Join(", ", expected.Shape)}]");
        var a = actual.ToFloatArray();
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs((double)a[i] - expected.Values[i]));
        Assert.True(worst < bar, $"{what}: max |diff| {worst:E2}, limit {bar:E0}");
        return worst;
    }

    /// <summary>Rows [first, first + count) of axis 1 of a [B, S, D] reference output.</summary>
    public static (float[] Values, int[] Shape) Rows((float[] Values, int[] Shape) e, int first, int count)
    {
        int b = e.Shape[0], s = e.Shape[1], d = e.Shape[2];
        var v = new float[b * count * d];
        for (int i = 0; i < b; i++)
            Array.Copy(e.Values, (i * s + first) * d, v, i * count * d, count * d);
        return (v, [b, count, d]);
    }
}
