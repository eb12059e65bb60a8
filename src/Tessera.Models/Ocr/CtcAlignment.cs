namespace Tessera.Models.Ocr;

/// <summary>One decoded character and the CTC steps (frames) its alignment spends on it.</summary>
/// <param name="Label">The character's class index (never the blank).</param>
/// <param name="FirstFrame">The first step of the character.</param>
/// <param name="LastFrame">The last step of the character (inclusive).</param>
/// <param name="Probability">Its probability at the step where it starts (what the line's confidence averages).</param>
internal readonly record struct CtcChar(int Label, int FirstFrame, int LastFrame, float Probability);

/// <summary>A decoded line with its alignment: the raw CTC text (exactly what the decoder gives, before any word
/// spacing), its confidence, each character's frames, and the number of frames of the line's batch.</summary>
internal sealed record AlignedText(string Text, float Confidence, CtcChar[] Chars, int Frames)
{
    /// <summary>The text and confidence alone.</summary>
    public RecognizedText ToRecognizedText() => new(Text, Confidence);
}

/// <summary>CTC decoding that keeps the alignment: greedy (PaddleOCR's CTCLabelDecode) and, through
/// <see cref="CtcBeamSearch"/>, the beam search's most probable alignment.</summary>
internal static class CtcAlignment
{
    /// <summary>Greedy decoding of probabilities [B, T, classes]: the best class at each step (the first on ties, as
    /// numpy's argmax), repeats merged, blanks dropped; a character's frames are its run of steps. The confidence is
    /// the mean of the kept characters' first-step probabilities, 0 when nothing is kept.</summary>
    public static AlignedText[] Greedy(Tensor probs, IReadOnlyList<string> characters)
    {
        if (probs.Rank != 3 || probs.Shape[2] != characters.Count)
            throw new TesseraException($"CTC decode needs probabilities [B, T, {characters.Count}], got {probs.Shape}");
        int b = probs.Shape[0], t = probs.Shape[1], k = probs.Shape[2];
        var p = probs.ToFloatArray();
        var result = new AlignedText[b];
        var text = new System.Text.StringBuilder();
        var chars = new List<CtcChar>();
        for (int i = 0; i < b; i++)
        {
            text.Clear();
            chars.Clear();
            double sum = 0;
            int prev = -1;
            for (int s = 0; s < t; s++)
            {
                var row = p.AsSpan((i * t + s) * k, k);
                int best = 0;
                for (int c = 1; c < k; c++) if (row[c] > row[best]) best = c;
                if (best != 0 && best == prev) chars[^1] = chars[^1] with { LastFrame = s };
                else if (best != 0)
                {
                    text.Append(characters[best]);
                    sum += row[best];
                    chars.Add(new CtcChar(best, s, s, row[best]));
                }
                prev = best;
            }
            result[i] = new AlignedText(text.ToString(), chars.Count == 0 ? 0f : (float)(sum / chars.Count), chars.ToArray(), t);
        }
        return result;
    }
}
