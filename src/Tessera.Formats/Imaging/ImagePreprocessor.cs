using System.Diagnostics;
using System.Globalization;

namespace Tessera.Imaging;

/// <summary>What <see cref="ImagePreprocessor.Apply"/> made.</summary>
/// <param name="Image">The processed image, with as many channels as the input (a gray result is copied into each
/// colour channel), so that it can go to the OCR pipeline, whose networks take 3-channel images.</param>
/// <param name="DeskewAngle">The skew angle found by <c>deskew</c> in degrees (counter-clockwise positive; the sum
/// when there are several), or null when the pipeline has no deskew.</param>
/// <param name="ElapsedMs">Wall-clock milliseconds of the whole preprocessing.</param>
public sealed record PreprocessResult(Image Image, double? DeskewAngle, double ElapsedMs);

/// <summary>An ordered list of image operations applied one after the other, parsed from a spec such as
/// <c>gray,median:3,gaussian:1.2,bilateral:9:75:75,clahe:2.0:8,sauvola:25:0.2,deskew:15</c>: operations separated by
/// commas, parameters by colons, numbers in invariant culture, trailing parameters optional (see
/// <see cref="Operations"/> for each and <see cref="Help"/> for the list).</summary>
public sealed class ImagePreprocessor
{
    /// <summary>The operations and their parameters, one per line, for help texts.</summary>
    public const string Help =
        "gray                          to gray (0.299 R + 0.587 G + 0.114 B)\n" +
        "median[:K]                    median of a KxK window per channel (K odd, default 3)\n" +
        "gaussian[:SIGMA[:KSIZE]]      Gaussian blur (default sigma 1; size round(6 sigma + 1) | 1)\n" +
        "bilateral[:D[:SC[:SS]]]       bilateral filter, diameter D, sigma colour SC, sigma space SS (default 9:75:75)\n" +
        "clahe[:CLIP[:GRID]]           CLAHE on gray, clip limit and tile grid N or NxM (default 2:8)\n" +
        "sauvola[:W[:K[:R]]]           Sauvola binarisation, window W, k, R (default 25:0.2:128)\n" +
        "deskew[:MAX]                  straighten text skewed by up to MAX degrees (default 15)";

    /// <summary>A preprocessor running <paramref name="operations"/> in order (each validated now).</summary>
    public ImagePreprocessor(IEnumerable<IImageOperation> operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        Operations = operations.ToArray();
        foreach (var op in Operations) op.Validate();
    }

    /// <summary>The operations, in the order they run.</summary>
    public IReadOnlyList<IImageOperation> Operations { get; }

    /// <summary>The spec that <see cref="Parse"/> would read back into these operations.</summary>
    public string Spec => string.Join(",", Operations.Select(o => o.Spec));

    /// <summary>Reads a spec (see the class summary); a <see cref="TesseraException"/> names an unknown operation or a
    /// parameter that is missing its value, is not a number, or is out of range.</summary>
    public static ImagePreprocessor Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var ops = new List<IImageOperation>();
        foreach (var raw in spec.Split(','))
        {
            var item = raw.Trim();
            if (item.Length == 0) throw new TesseraException($"preprocess spec \"{spec}\": an empty operation (two commas, or a comma at an end)");
            var parts = item.Split(':');
            var name = parts[0].Trim().ToLowerInvariant();
            var args = parts.Skip(1).Select(a => a.Trim()).ToArray();
            int most = name switch
            {
                "gray" or "grey" => 0,
                "median" or "deskew" => 1,
                "gaussian" or "clahe" => 2,
                "bilateral" or "sauvola" => 3,
                _ => throw new TesseraException($"preprocess spec: unknown operation \"{parts[0]}\" in \"{item}\"; known: gray, median, gaussian, bilateral, clahe, sauvola, deskew"),
            };
            if (args.Length > most) throw new TesseraException($"preprocess spec \"{item}\": {name} takes at most {most} parameter(s), got {args.Length}");
            ops.Add(name switch
            {
                "gray" or "grey" => new Grayscale(),
                "median" => new MedianFilter(Int(item, args, 0, "window", 3)),
                "gaussian" => new GaussianBlur(Num(item, args, 0, "sigma", 1), Int(item, args, 1, "kernel size", 0)),
                "bilateral" => new BilateralFilter(Int(item, args, 0, "diameter", 9), Num(item, args, 1, "sigma colour", 75), Num(item, args, 2, "sigma space", 75)),
                "clahe" => ClaheOf(item, args),
                "sauvola" => new SauvolaBinarization(Int(item, args, 0, "window", 25), Num(item, args, 1, "k", 0.2), Num(item, args, 2, "R", 128)),
                _ => new Deskew(Num(item, args, 0, "max angle", 15)),
            });
            try { ops[^1].Validate(); }
            catch (TesseraException e) { throw new TesseraException($"preprocess spec \"{item}\": {e.Message}"); }
        }
        return new ImagePreprocessor(ops);
    }

    /// <summary>Runs the operations in order on <paramref name="image"/>; the result has the input's channel count.</summary>
    public PreprocessResult Apply(Image image)
    {
        ArgumentNullException.ThrowIfNull(image);
        ImageRows.Check(image, "preprocess");
        var sw = Stopwatch.StartNew();
        double? angle = null;
        var img = image;
        foreach (var op in Operations)
        {
            if (op is Deskew d)
            {
                var r = d.Run(img);
                angle = (angle ?? 0) + r.AngleDegrees;
                img = r.Image;
            }
            else img = op.Apply(img);
        }
        if (img.Channels != image.Channels) img = Grayscale.Expand(img, image.Channels);
        return new PreprocessResult(img, angle, sw.Elapsed.TotalMilliseconds);
    }

    private static double Num(string item, string[] args, int i, string what, double dflt)
    {
        if (i >= args.Length) return dflt;
        if (double.TryParse(args[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)) return v;
        throw new TesseraException($"preprocess spec \"{item}\": {what} must be a number, got \"{args[i]}\"");
    }

    private static int Int(string item, string[] args, int i, string what, int dflt)
    {
        if (i >= args.Length) return dflt;
        if (int.TryParse(args[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) return v;
        throw new TesseraException($"preprocess spec \"{item}\": {what} must be an integer, got \"{args[i]}\"");
    }

    // clahe:CLIP:GRID with GRID either N (N x N tiles) or NxM (N across, M down).
    private static Clahe ClaheOf(string item, string[] args)
    {
        double clip = Num(item, args, 0, "clip limit", 2.0);
        if (args.Length < 2) return new Clahe(clip);
        var g = args[1].ToLowerInvariant().Split('x');
        if (g.Length > 2) throw new TesseraException($"preprocess spec \"{item}\": the tile grid must be N or NxM, got \"{args[1]}\"");
        int tx = Int(item, g, 0, "tile grid", 8), ty = g.Length == 2 ? Int(item, g, 1, "tile grid", 8) : tx;
        return new Clahe(clip, tx, ty);
    }
}
