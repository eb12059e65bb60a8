using System.Globalization;

namespace Tessera.Imaging;

/// <summary>What <see cref="Deskew.Run"/> found and made.</summary>
/// <param name="Image">The straightened image (same size and channels as the input).</param>
/// <param name="AngleDegrees">The skew found: the text's lines rose by this angle counter-clockwise (as seen on
/// screen); the image was turned back by it. 0 when no ink was found.</param>
public sealed record DeskewResult(Image Image, double AngleDegrees);

/// <summary>Skew correction by projection profiles (Postl's method): the ink of the page (the smaller class of an Otsu
/// threshold of its gray) is projected onto rows after turning by each candidate angle in
/// [-<see cref="MaxAngle"/>, +<see cref="MaxAngle"/>], and the angle whose row profile varies most sharply (largest
/// sum of squared differences of adjacent rows, peaked when text lines lie along rows) wins: first in steps of
/// 0.5 degrees, then 0.05 and 0.01 around the best. The image, every channel, is turned back by it
/// (<see cref="ImageRotation"/>: bilinear, replicated borders).</summary>
/// <param name="MaxAngle">The largest skew searched, in degrees (0 to 45).</param>
public sealed record Deskew(double MaxAngle = 15) : IImageOperation
{
    private const int MaxPoints = 200_000;

    /// <inheritdoc/>
    public string Spec => string.Create(CultureInfo.InvariantCulture, $"deskew:{MaxAngle}");

    /// <inheritdoc/>
    public void Validate()
    {
        if (!(MaxAngle >= 0 && MaxAngle <= 45)) throw new TesseraException($"deskew: the angle range must be 0 to 45 degrees, got {MaxAngle}");
    }

    /// <inheritdoc/>
    public Image Apply(Image image) => Run(image).Image;

    /// <summary>The straightened image and the skew angle found.</summary>
    public DeskewResult Run(Image image)
    {
        Validate();
        double angle = FindAngle(image);
        return new DeskewResult(angle == 0 ? image with { Pixels = (byte[])image.Pixels.Clone() } : ImageRotation.Rotate(image, -angle), angle);
    }

    /// <summary>The skew of <paramref name="image"/> in degrees (counter-clockwise positive), without turning it.</summary>
    public double FindAngle(Image image)
    {
        Validate();
        var gray = Grayscale.ToGray(image);
        var (xs, ys) = InkPoints(gray);
        if (xs.Length == 0) return 0;
        int rows = (int)Math.Ceiling(Math.Sqrt((double)gray.Width * gray.Width + (double)gray.Height * gray.Height)) + 2;
        double best = 0, bestScore = double.NegativeInfinity;
        foreach (var (step, span) in new[] { (0.5, MaxAngle), (0.05, 0.5), (0.01, 0.05) })
        {
            double centre = best;
            int n = (int)Math.Round(span / step);
            var scores = new double[2 * n + 1];
            ImageRows.For(scores.Length, 2, (s, e) =>
            {
                var profile = new int[rows];
                for (int i = s; i < e; i++)
                    scores[i] = Score(xs, ys, Math.Clamp(centre + (i - n) * step, -MaxAngle, MaxAngle), profile);
            });
            for (int i = 0; i < scores.Length; i++)
                if (scores[i] > bestScore) { bestScore = scores[i]; best = Math.Clamp(centre + (i - n) * step, -MaxAngle, MaxAngle); }
        }
        return best;
    }

    // The sharpness of the row profile of the ink turned back by `degrees`.
    private static double Score(float[] xs, float[] ys, double degrees, int[] profile)
    {
        Array.Clear(profile);
        double a = degrees * Math.PI / 180;
        float sin = (float)Math.Sin(a), cos = (float)Math.Cos(a), mid = profile.Length / 2f;
        // Turning by -a moves a point (x, y) to the row x sin a + y cos a (y down).
        for (int i = 0; i < xs.Length; i++) profile[(int)(xs[i] * sin + ys[i] * cos + mid)]++;
        double score = 0;
        for (int i = 1; i < profile.Length; i++) { double d = profile[i] - profile[i - 1]; score += d * d; }
        return score;
    }

    // Ink pixels relative to the centre: the smaller side of Otsu's threshold, evenly thinned to at most MaxPoints.
    private static (float[] Xs, float[] Ys) InkPoints(Image gray)
    {
        var px = gray.Pixels;
        Span<long> hist = stackalloc long[256];
        foreach (var v in px) hist[v]++;
        int t = Otsu(hist, px.Length);
        long dark = 0;
        for (int i = 0; i <= t; i++) dark += hist[i];
        bool inkDark = dark <= px.Length - dark;
        long ink = inkDark ? dark : px.Length - dark;
        if (ink == 0 || ink == px.Length) return ([], []);
        int stride = (int)Math.Max(1, (ink + MaxPoints - 1) / MaxPoints);
        var xs = new List<float>(); var ys = new List<float>();
        float cx = (gray.Width - 1) / 2f, cy = (gray.Height - 1) / 2f;
        long seen = 0;
        for (int y = 0; y < gray.Height; y++)
            for (int x = 0; x < gray.Width; x++)
                if ((px[y * gray.Width + x] <= t) == inkDark && seen++ % stride == 0) { xs.Add(x - cx); ys.Add(y - cy); }
        return (xs.ToArray(), ys.ToArray());
    }

    // Otsu's threshold: the level t maximising the between-class variance of {<= t} and {> t}.
    private static int Otsu(ReadOnlySpan<long> hist, long total)
    {
        double sumAll = 0;
        for (int i = 0; i < 256; i++) sumAll += (double)i * hist[i];
        double sumLow = 0, best = -1;
        long low = 0;
        int t = 0;
        for (int i = 0; i < 255; i++)
        {
            low += hist[i];
            sumLow += (double)i * hist[i];
            long high = total - low;
            if (low == 0 || high == 0) continue;
            double d = sumLow / low - (sumAll - sumLow) / high, between = (double)low * high * d * d;
            if (between > best) { best = between; t = i; }
        }
        return t;
    }
}
