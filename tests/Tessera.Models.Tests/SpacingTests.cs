using Tessera.Imaging;
using Tessera.Models.Ocr;
using Xunit.Abstractions;

namespace Tessera.Models.Tests;

/// <summary>Word spacing from the CTC alignment: on synthetic glyph boxes with a known alignment (unit), and with the
/// real recogniser on lines ImageMagick renders in several fonts, sizes and trackings (word error rate against the
/// truth). The sentences here are not those the factors were tuned on.</summary>
public sealed class SpacingTests(OcrRecFixture f, ITestOutputHelper log) : IClassFixture<OcrRecFixture>
{
    // Classes: blank, a, b, c, space, and a CJK character.
    private static readonly string[] Chars = ["", "a", "b", "c", " ", "中"];

    // A white 40-row crop with black glyph boxes at [x0, x1) and an alignment putting each glyph's one frame at its
    // centre (4 columns per frame).
    private static (Image Crop, AlignedText Text) Synthetic((int Label, int X0, int X1)[] glyphs, int width = 200, string[]? classes = null)
    {
        var names = classes ?? Chars;
        var px = Enumerable.Repeat((byte)255, width * 40 * 3).ToArray();
        foreach (var (label, x0, x1) in glyphs)
            if (names[label] != " ")
                for (int y = 8; y < 32; y++)
                    for (int x = x0; x < x1; x++)
                        for (int c = 0; c < 3; c++) px[(y * width + x) * 3 + c] = 0;
        var chars = glyphs.Select(g => new CtcChar(g.Label, (g.X0 + g.X1) / 8, (g.X0 + g.X1) / 8, 0.9f)).ToArray();
        string text = string.Concat(glyphs.Select(g => names[g.Label]));
        return (new Image(px, width, 40, 3, Bgr: true), new AlignedText(text, 0.9f, chars, width / 4));
    }

    // "abc" then a wide gap then "ab", letters 10 wide with gaps of 2; the word gap 12.
    private static readonly (int, int, int)[] TwoWords = [(1, 10, 20), (2, 22, 32), (3, 34, 44), (1, 56, 66), (2, 68, 78)];

    [Fact]
    public void WideGap_BreaksTheWords_WithTheirColumns()
    {
        var (crop, text) = Synthetic(TwoWords);
        var line = WordSpacing.Apply(crop, text, Chars, 4, SpacingMode.Auto);
        Assert.Equal("abc ab", line.Text);
        Assert.Equal(["abc", "ab"], line.Words.Select(w => w.Text));
        Assert.Equal((10f, 44f), (line.Words[0].Left, line.Words[0].Right));
        Assert.Equal((56f, 78f), (line.Words[1].Left, line.Words[1].Right));
    }

    [Fact]
    public void ModelAndOffModes_KeepOrDropSpaces()
    {
        var (crop, text) = Synthetic(TwoWords);
        Assert.Equal("abcab", WordSpacing.Apply(crop, text, Chars, 4, SpacingMode.Model).Text);
        var (crop2, spaced) = Synthetic([(1, 10, 20), (4, 24, 28), (2, 30, 40)]);
        Assert.Equal("a b", WordSpacing.Apply(crop2, spaced, Chars, 4, SpacingMode.Model).Text);
        Assert.Equal("ab", WordSpacing.Apply(crop2, spaced, Chars, 4, SpacingMode.Off).Text);
    }

    [Fact]
    public void RecognisersOwnSpaces_AreKept()
    {
        // A space the recogniser emitted between glyphs set as tightly as the rest stays.
        var (crop, text) = Synthetic([(1, 10, 20), (2, 22, 32), (4, 32, 34), (3, 34, 44), (1, 46, 56)]);
        var line = WordSpacing.Apply(crop, text, Chars, 4, SpacingMode.Auto);
        Assert.Equal("ab ca", line.Text);
        Assert.Equal(["ab", "ca"], line.Words.Select(w => w.Text));
    }

    [Fact]
    public void DecimalPointAndThousandsSeparator_BetweenDigits_DoNotBreak()
    {
        // "18.81" and "81,18": the separator 3 columns wide, then a blank of 9 before the next digit, wide enough to
        // break the line had it been between letters; "a. a" with the same gaps still breaks.
        string[] classes = ["", "1", "8", ".", ",", "a"];
        (int, int, int)[] Number(int separator) => [(1, 10, 20), (2, 22, 32), (separator, 34, 37), (2, 46, 56), (1, 58, 68)];
        var (crop, text) = Synthetic(Number(3), classes: classes);
        Assert.Equal("18.81", WordSpacing.Apply(crop, text, classes, 4, SpacingMode.Auto).Text);
        (crop, text) = Synthetic(Number(4), classes: classes);
        Assert.Equal("18,81", WordSpacing.Apply(crop, text, classes, 4, SpacingMode.Auto).Text);
        (crop, text) = Synthetic([(5, 10, 20), (5, 22, 32), (3, 34, 37), (5, 46, 56), (5, 58, 68)], classes: classes);
        Assert.Equal("aa. aa", WordSpacing.Apply(crop, text, classes, 4, SpacingMode.Auto).Text);
    }

    [Fact]
    public void NonLatinLines_AreNotSpaced()
    {
        var (crop, text) = Synthetic([(5, 10, 30), (5, 32, 52), (5, 70, 90)]);
        Assert.Equal("中中中", WordSpacing.Apply(crop, text, Chars, 4, SpacingMode.Auto).Text);
        Assert.False(WordSpacing.IsLatin(["中", "中", "a"]));
        Assert.True(WordSpacing.IsLatin(["É", "t", "é", "1", "中"]));
    }

    [Fact]
    public void BlankCrop_KeepsTheRawText()
    {
        var (_, text) = Synthetic(TwoWords);
        var blank = new Image(Enumerable.Repeat((byte)255, 200 * 40 * 3).ToArray(), 200, 40, 3, Bgr: true);
        Assert.Equal("abcab", WordSpacing.Apply(blank, text, Chars, 4, SpacingMode.Auto).Text);
    }

    [SkippableFact]
    public void RenderedLines_InSeveralFontsSizesAndTrackings_AreSpaced()
    {
        Skip.IfNot(RenderedText.Available, "ImageMagick's convert is not installed (apt-get install imagemagick)");
        string[] sentences = ["Send the signed form back by Friday noon", "Our office moved to 27 Elm Street in April"];
        string[] fonts = ["DejaVu-Sans", "DejaVu-Serif", "DejaVu-Sans-Condensed"];
        int[] sizes = [18, 32];
        double[] kernings = [-0.5, 3];
        // The detector stood in for by InkBandDetector: the crop is the line's ink plus a margin, as DB gives it.
        using var ocr = new OcrPipeline(f.Cpu, new OcrOptions(), f.Rec, new InkBandDetector(f.Cpu), ownsModels: false);
        double wer = 0, rawWer = 0, spacingWer = 0;
        int lines = 0, readRight = 0, exact = 0;
        foreach (var s in sentences)
            foreach (var font in fonts)
                foreach (int size in sizes)
                    foreach (double k in kernings)
                    {
                        var line = Assert.Single(ocr.Run(RenderedText.Line(s, font, size, k)).Lines);
                        double e = RenderedText.WordErrorRate(s, line.Text);
                        log.WriteLine($"{font} {size}pt kerning {k}: WER {e:F2} \"{line.Text}\" (raw \"{line.RawText}\")");
                        wer += e;
                        rawWer += RenderedText.WordErrorRate(s, line.RawText!);
                        lines++;
                        // The spacing's own errors: on lines whose characters the recogniser got right.
                        if (line.RawText!.Replace(" ", "") == s.Replace(" ", ""))
                        {
                            readRight++;
                            spacingWer += e;
                            exact += line.Text == s ? 1 : 0;
                        }
                        // Spacing only adds spaces: the characters are the raw CTC text's.
                        Assert.Equal(line.RawText!.Replace(" ", ""), line.Text.Replace(" ", ""));
                        Assert.Equal(line.Text.Split(' '), line.Words.Select(w => w.Text));
                    }
        log.WriteLine($"mean WER {wer / lines:F3} (raw CTC text {rawWer / lines:F3}); characters right on {readRight} of {lines} lines, "
            + $"of which {exact} spaced exactly (mean WER {spacingWer / Math.Max(readRight, 1):F3})");
        Assert.True(readRight >= lines / 2, $"only {readRight} of {lines} lines read right");
        Assert.True(exact >= 0.8 * readRight, $"only {exact} of {readRight} lines spaced exactly");
        Assert.True(wer < rawWer / 2, $"spacing should cut the WER: {wer / lines:F3} vs raw {rawWer / lines:F3}");
    }
}
