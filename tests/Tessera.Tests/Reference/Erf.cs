namespace Tessera.Tests.Reference;

/// <summary>The error function in double precision (System.Math has none). Two textbook expansions, chosen
/// where each is exact to a few ulps, rather than a fitted rational approximation whose coefficients could
/// be mistyped:
/// <list type="bullet">
/// <item>erf(x) = 2/sqrt(pi) e^(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)) (Abramowitz and Stegun 7.1.6):
/// every term is positive, so nothing cancels and the sum is accurate for any |x| &lt; 6;</item>
/// <item>erfc(x) = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) (A&amp;S 7.1.14), a continued
/// fraction that converges fast for x &gt;= 3, where 1 - erf(x) would lose relative precision.</item>
/// </list></summary>
public static class Erf
{
    private static readonly double TwoOverSqrtPi = 2 / Math.Sqrt(Math.PI);

    public static double Of(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return -Of(-x);
        if (x >= 6) return 1; // erfc(6) = 2.2e-17, below half an ulp of 1
        if (x >= 3) return 1 - Complement(x);
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; term > 1e-17 * sum; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
        }
        return TwoOverSqrtPi * Math.Exp(-x2) * sum;
    }

    /// <summary>erfc(x) = 1 - erf(x), accurate in relative terms also in the far right tail.</summary>
    public static double Complement(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 3) return 1 - Of(x);
        // Evaluate the continued fraction from the bottom up; 200 levels converge to double precision for x >= 3.
        double f = x;
        for (int n = 200; n >= 1; n--) f = x + n / 2.0 / f;
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }
}
