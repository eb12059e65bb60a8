namespace Tessera.Models.Tests.Nn;

/// <summary>The layer tests' comparison: f32 results agree with the float64 reference when the largest difference is
/// under 1e-4 or the normalised MSE (mse(a, b) / mse(b, 0), ggml's rule) is under 1e-7.</summary>
public static class NnAssert
{
    public static (double MaxAbs, double Nmse) Close(string what, Tensor actual, (float[] Values, int[] Shape) expected,
        double maxAbs = 1e-4, double nmse = 1e-7)
    {
        Assert.True(actual.Shape.Dims.ToArray().SequenceEqual(expected.Shape),
            $"{what}: shape {actual.Shape}, the reference has [{string.Join(", ", expected.Shape)}]");
        return Close(what, actual.ToFloatArray(), expected.Values, maxAbs, nmse);
    }

    public static (double MaxAbs, double Nmse) Close(string what, float[] actual, float[] expected, double maxAbs = 1e-4, double nmse = 1e-7)
    {
        Assert.Equal(expected.Length, actual.Length);
        double err = 0, norm = 0, worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            Assert.False(double.IsNaN(d), $"{what}: NaN at {i} (ours {actual[i]}, reference {expected[i]})");
            err += d * d;
            norm += (double)expected[i] * expected[i];
            worst = Math.Max(worst, Math.Abs(d));
        }
        double n = norm == 0 ? err : err / norm;
        Assert.True(worst < maxAbs || n < nmse, $"{what}: max |diff| {worst:E2} (limit {maxAbs:E0}), nmse {n:E2} (limit {nmse:E0})");
        return (worst, n);
    }
}
