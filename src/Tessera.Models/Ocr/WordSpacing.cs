using Tessera.Imaging;

namespace Tessera.Models.Ocr;

/// <summary>Which spaces a line's text keeps.</summary>
public enum SpacingMode
{
    /// <summary>Spaces found from the CTC alignment on Latin-script lines, besides the recogniser's own, and on those
    /// lines look-alike letters and digits put right by their word (<see cref="LatinConfusables"/>; the
    /// default).</summary>
    Auto,

    /// <summary>Only the recogniser's own spaces: the raw CTC text.</summary>
    Model,

    /// <summary>No spaces at all.</summary>
    Off,
}

/// <summary>A word of a line in the crop's columns, before mapping to the page.</summary>
/// <param name="Text">The word.</param>
/// <param name="Confidence">The mean probability of its characters.</param>
/// <param name="Left">Its first column in the crop.</param>
/// <param name="Right">One past its last column in the crop.</param>
internal readonly record struct CropWord(string Text, float Confidence, float Left, float Right);

/// <summary>A line's text after word spacing and its words in the crop's columns.</summary>
internal sealed record SpacedLine(string Text, IReadOnlyList<CropWord> Words);

/// <summary>Word spacing from the CTC alignment. A recogniser trained mostly on Chinese (PP-OCRv4's) drops the spaces
/// of tightly set Latin text, but its alignment still says where each character sits: each character's frames map to
/// the crop's columns (<c>columnsPerFrame</c>), and the crop's own ink gives, between two neighbouring characters, the
/// widest run of blank columns (the gap) and each character's extent (its width). Word breaks are the gaps at least
/// as wide as a threshold taken from the line itself: max(<see cref="GapFactor"/> * median gap,
/// <see cref="WidthFactor"/> * median width), robust to a few outliers and to the font's size and tracking. The
/// factors were tuned on 121 lines rendered by ImageMagick (8 sentences, 7 fonts, 16 to 40 points, tracking -1 to
/// +5), none of them the tests' truth lines: of the 106 lines whose characters were read exactly, 91 came out
/// spaced exactly by the gap rule alone (the digit pitch rule, <see cref="DigitPitchFactor"/>, was added after, for
/// the tabular figures of the sample).</summary>
internal static class WordSpacing
{
    /// <summary>A word gap is at least this many times the line's median gap between characters.</summary>
    public const float GapFactor = 1.9f;

    /// <summary>A word gap is at least this fraction of the line's median character width.</summary>
    public const float WidthFactor = 0.45f;

    /// <summary>Two digits break only when their ink centres stand this many times the line's median digit pitch
    /// apart (besides the gap), when the line has at least two digit pairs.</summary>
    public const float DigitPitchFactor = 1.3f;

    private const string ClosingPunctuation = ".,;:!?)]}%\u3002\uFF0C\uFF1A\uFF1B\uFF01\uFF1F\uFF09";
    private const string OpeningPunctuation = "([{\uFF08";

    /// <summary>The text and words of one recognised line. <paramref name="crop"/> is the image the recogniser read
    /// (as turned for it), <paramref name="columnsPerFrame"/> its columns per CTC step.</summary>
    public static SpacedLine Apply(Image crop, AlignedText aligned, IReadOnlyList<string> characters, float columnsPerFrame, SpacingMode mode)
    {
        // Non-space characters, each remembering whether the recogniser put a space before it.
        var chars = new List<(string S, float P, float Centre, bool SpaceBefore)>();
        bool pending = false;
        foreach (var c in aligned.Chars)
        {
            string s = c.Label > 0 && c.Label < characters.Count ? characters[c.Label] : "";
            if (string.IsNullOrWhiteSpace(s)) { pending = chars.Count > 0; continue; }
            float centre = Math.Clamp((c.FirstFrame + c.LastFrame + 1) * 0.5f * columnsPerFrame, 0, crop.Width - 1);
            chars.Add((s, c.Probability, centre, pending));
            pending = false;
        }
        bool alignedOk = aligned.Chars.All(c => c.Label > 0) && chars.Count > 0;
        if (mode == SpacingMode.Off || !alignedOk)
        {
            string text = mode == SpacingMode.Off ? string.Concat(chars.Select(c => c.S)) : aligned.Text;
            return new SpacedLine(text, text.Length == 0 ? [] : [new CropWord(text, aligned.Confidence, 0, crop.Width)]);
        }

        var pixels = InkPixels(crop);
        var ink = pixels is null ? null : InkColumns(pixels, crop.Width);
        int n = chars.Count;
        // Between characters i and i + 1: the widest blank run of columns between their centres.
        var gapStart = new float[Math.Max(n - 1, 0)];
        var gapEnd = new float[gapStart.Length];
        for (int i = 0; i + 1 < n; i++)
        {
            int a = (int)MathF.Floor(chars[i].Centre), b = (int)MathF.Ceiling(chars[i + 1].Centre);
            int bestStart = -1, bestLen = 0;
            for (int x = a; x <= b && ink is not null; )
            {
                if (ink[x]) { x++; continue; }
                int s = x;
                while (x <= b && !ink[x]) x++;
                if (x - s > bestLen) { bestLen = x - s; bestStart = s; }
            }
            if (bestLen == 0) gapStart[i] = gapEnd[i] = (chars[i].Centre + chars[i + 1].Centre) / 2;
            else { gapStart[i] = bestStart; gapEnd[i] = bestStart + bestLen; }
        }
        float lineLeft = FirstInk(ink, 0, (int)chars[0].Centre) ?? 0;
        float lineRight = LastInk(ink, (int)chars[^1].Centre, crop.Width - 1) is { } r ? r + 1 : crop.Width;
        float Left(int i) => i == 0 ? lineLeft : gapEnd[i - 1];
        float Right(int i) => i == n - 1 ? lineRight : gapStart[i];

        var breaks = new bool[n];                   // breaks[i]: a space before character i
        for (int i = 1; i < n; i++) breaks[i] = chars[i].SpaceBefore;
        bool latin = mode == SpacingMode.Auto && IsLatin(chars.Select(c => c.S));
        if (latin && ink is not null)
        {
            var gaps = Enumerable.Range(0, n - 1).Where(i => !chars[i + 1].SpaceBefore).Select(i => gapEnd[i] - gapStart[i]).ToArray();
            var widths = Enumerable.Range(0, n).Select(i => Math.Max(0, Right(i) - Left(i))).ToArray();
            float threshold = Math.Max(GapFactor * Median(gaps), WidthFactor * Median(widths));
            // A digit, or a look-alike letter beside one (the "o" of a misread "2o17").
            bool Digit(int i) => char.IsDigit(chars[i].S[^1])
                || (chars[i].S is "o" or "O" or "l" or "I" && ((i > 0 && char.IsDigit(chars[i - 1].S[^1])) || (i + 1 < n && char.IsDigit(chars[i + 1].S[0]))));
            bool IsDigitPair(int i) => Digit(i) && Digit(i + 1);
            bool IsNumberSeparator(int i) => chars[i].S is "." or "," && i > 0 && char.IsDigit(chars[i - 1].S[^1]) && char.IsDigit(chars[i + 1].S[0]);
            float Pitch(int i) => (Left(i + 1) + Right(i + 1) - Left(i) - Right(i)) / 2;
            var pitches = Enumerable.Range(0, n - 1).Where(IsDigitPair).Select(Pitch).ToArray();
            // The lower median: with few pairs (a postcode's "15 9") the spaced pair must not raise the cell.
            float digitPitch = pitches.Length >= 2 ? LowerMedian(pitches) : 0;
            for (int i = 0; i + 1 < n; i++)
            {
                float gap = gapEnd[i] - gapStart[i];
                if (gap <= 0 || gap < threshold) continue;
                // Closing punctuation is set against the word before it, an opening bracket against the word after:
                // a wide gap there is the glyphs' shape ("7." or "r,"), not a space.
                if (ClosingPunctuation.Contains(chars[i + 1].S[0]) || OpeningPunctuation.Contains(chars[i].S[^1])) continue;
                // A decimal point or thousands separator between digits ("184.36", "61,110") is part of the number:
                // the dot's narrow ink leaves a wide blank after it. The recogniser's own space there is still kept.
                if (IsNumberSeparator(i)) continue;
                // Numerals are tabular: a narrow digit (1) sits in a full-width cell, with wide gaps beside it; two
                // digits of one number stand one cell apart, centre to centre, and a space adds to that.
                if (IsDigitPair(i) && digitPitch > 0 && Pitch(i) < DigitPitchFactor * digitPitch) continue;
                breaks[i + 1] = true;
            }
        }

        // On Latin lines, wide zeros in words of letters read again from their ink (GlyphShapes).
        var glyphs = latin && ink is not null
            ? GlyphShapes.Fix(chars.Select(c => c.S).ToArray(), Enumerable.Range(0, n).Select(Left).ToArray(), Enumerable.Range(0, n).Select(Right).ToArray(), breaks)
            : chars.Select(c => c.S).ToArray();
        var words = new List<CropWord>();
        for (int i = 0; i < n;)
        {
            int j = i + 1;
            while (j < n && !breaks[j]) j++;
            string w = string.Concat(glyphs.Skip(i).Take(j - i));
            if (latin) w = LatinConfusables.Fix(w);
            float p = chars.Skip(i).Take(j - i).Average(c => c.P);
            words.Add(new CropWord(w, p, Left(i), Right(j - 1)));
            i = j;
        }
        return new SpacedLine(string.Join(' ', words.Select(w => w.Text)), words);
    }

    /// <summary>Whether most letters and digits of the line are Latin (Basic Latin to Latin Extended-B).</summary>
    internal static bool IsLatin(IEnumerable<string> chars)
    {
        int all = 0, latin = 0;
        foreach (var s in chars)
            foreach (char c in s)
                if (char.IsLetterOrDigit(c)) { all++; if (c < '\u0250') latin++; }
        return all > 0 && latin >= 0.6 * all;
    }

    /// <summary>Which columns of the crop hold ink (<see cref="InkPixels"/>); null when the crop has no contrast to
    /// speak of.</summary>
    internal static bool[]? InkColumns(Image crop) => InkPixels(crop) is { } pixels ? InkColumns(pixels, crop.Width) : null;

    private static bool[] InkColumns(bool[] pixels, int w)
    {
        var ink = new bool[w];
        for (int i = 0; i < pixels.Length; i++) if (pixels[i]) ink[i % w] = true;
        return ink;
    }

    /// <summary>Which pixels of the crop (row by row) hold ink: far enough from the background (the crop's median
    /// gray) in the middle three quarters of the rows (the crop's margins may hold the neighbouring lines' ascenders
    /// and descenders; the other rows stay blank). Null when the crop has no contrast to speak of.</summary>
    internal static bool[]? InkPixels(Image crop)
    {
        int w = crop.Width, h = crop.Height;
        var gray = new byte[w * h];
        var hist = new int[256];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int g = (crop.Bgr8(x, y, 0) + crop.Bgr8(x, y, 1) + crop.Bgr8(x, y, 2)) / 3;
                gray[y * w + x] = (byte)g;
                hist[g]++;
            }
        int background = 0;
        for (int acc = 0; background < 255 && (acc += hist[background]) * 2 < w * h; ) background++;
        int y0 = h / 8, y1 = h - h / 8;
        int maxDev = 0;
        for (int i = y0 * w; i < y1 * w; i++) maxDev = Math.Max(maxDev, Math.Abs(gray[i] - background));
        if (maxDev < 32) return null;
        // Half the strongest contrast: anti-aliased edges between tight letters stay blank.
        int threshold = Math.Max(24, maxDev / 2);
        var ink = new bool[w * h];
        for (int i = y0 * w; i < y1 * w; i++) ink[i] = Math.Abs(gray[i] - background) > threshold;
        return ink;
    }

    private static float? FirstInk(bool[]? ink, int from, int to)
    {
        if (ink is null) return null;
        for (int x = from; x <= to; x++) if (ink[x]) return x;
        return null;
    }

    private static float? LastInk(bool[]? ink, int from, int to)
    {
        if (ink is null) return null;
        for (int x = to; x >= from; x--) if (ink[x]) return x;
        return null;
    }

    private static float LowerMedian(float[] v) => v.OrderBy(x => x).ElementAt((v.Length - 1) / 2);

    private static float Median(float[] v)
    {
        if (v.Length == 0) return 0;
        var s = v.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
