using System.Numerics;

namespace Tessera.Tests.Reference;

/// <summary>The one normalised-MSE rule of the test suites (ggml's test-backend-ops): mse(actual, expected) /
/// mse(expected, 0). Every comparison against a reference in tests/ goes through it; projects other than
/// Tessera.Tests link this file. An all-zero reference has no scale: then the plain MSE is returned. A NaN or an
/// infinity where the reference has another value is infinitely wrong; elements where both hold the same
/// non-finite value are skipped.</summary>
public static class Nmse
{
    /// <summary>ggml's default bound for f32 ops.</summary>
    public const double F32Bound = 1e-7;

    /// <summary>The normalised MSE of <paramref name="actual"/> against <paramref name="expected"/>.</summary>
    public static double Of<TE, TA>(ReadOnlySpan<TE> expected, ReadOnlySpan<TA> actual)
        where TE : INumberBase<TE> where TA : INumberBase<TA>
    {
        if (expected.Length != actual.Length)
            throw new ArgumentException($"nmse of {actual.Length} values against a reference of {expected.Length}");
        double err = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateTruncating(expected[i]), a = double.CreateTruncating(actual[i]);
            if (!double.IsFinite(e) || !double.IsFinite(a))
            {
                if (e.Equals(a)) continue; // the same infinity, or NaN where the reference is NaN
                return double.PositiveInfinity;
            }
            err += (a - e) * (a - e);
            norm += e * e;
        }
        return norm > 0 ? err / norm : err / Math.Max(expected.Length, 1);
    }

    /// <summary>The normalised MSE of float results against a double reference.</summary>
    public static double Of(double[] expected, float[] actual) => Of<double, float>(expected, actual);

    /// <summary>The normalised MSE of float results against a float reference.</summary>
    public static double Of(float[] expected, float[] actual) => Of<float, float>(expected, actual);

    /// <summary>The normalised MSE of double results against a double reference.</summary>
    public static double Of(double[] expected, double[] actual) => Of<double, double>(expected, actual);

    /// <summary>Fails the test, naming <paramref name="what"/> and the measured value, unless the normalised MSE is
    /// under <paramref name="bound"/>.</summary>
    public static void Below<TE, TA>(ReadOnlySpan<TE> expected, ReadOnlySpan<TA> actual, double bound, string what)
        where TE : INumberBase<TE> where TA : INumberBase<TA>
    {
        double n = Of(expected, actual);
        Xunit.Assert.True(n < bound, $"{what}: normalised MSE {n:E3} is not under {bound:E0}");
    }

    /// <inheritdoc cref="Below{TE, TA}"/>
    public static void Below(double[] expected, float[] actual, double bound = F32Bound, string what = "result") =>
        Below<double, float>(expected, actual, bound, what);

    /// <inheritdoc cref="Below{TE, TA}"/>
    public static void Below(float[] expected, float[] actual, double bound = F32Bound, string what = "result") =>
        Below<float, float>(expected, actual, bound, what);
}
