using Tessera.Imaging;
using Tessera.Cpu;

namespace Tessera.Models.Tests;

/// <summary>Greedy CTC decoding and the line preprocessing, on hand-made inputs with known answers.</summary>
public sealed class CtcAndPreprocessTests : IDisposable
{
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 1));

    public void Dispose() => _cpu.Dispose();

    [Fact]
    public void Ctc_merges_repeats_drops_blanks_and_averages_the_kept_probabilities()
    {
        // Classes: blank, a, b, space. Steps: a a blank a b b space blank.
        int[] best = [1, 1, 0, 1, 2, 2, 3, 0];
        float[] p = [0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.95f, 0.4f, 0.99f];
        var probs = new float[best.Length * 4];
        for (int s = 0; s < best.Length; s++)
        {
            for (int c = 0; c < 4; c++) probs[s * 4 + c] = (1 - p[s]) / 3;
            probs[s * 4 + best[s]] = p[s];
        }
        using var t = Tensor.FromArray(_cpu, probs, 1, best.Length, 4);
        var dec = Decoder(["", "a", "b", " "])(t);
        Assert.Equal("aab ", dec[0].Text);
        Assert.Equal((0.9 + 0.6 + 0.5 + 0.4) / 4, dec[0].Confidence, 1e-6);
    }

    [Fact]
    public void Ctc_of_only_blanks_is_empty_with_confidence_zero()
    {
        using var t = Tensor.FromArray(_cpu, new float[] { 0.9f, 0.1f, 0.8f, 0.2f }, 1, 2, 2);
        var dec = Decoder(["", "a"])(t);
        Assert.Equal("", dec[0].Text);
        Assert.Equal(0f, dec[0].Confidence);
    }

    private static Func<Tensor, IReadOnlyList<RecognizedText>> Decoder(string[] chars) => t => PpOcrRecognizer.DecodeGreedy(t, chars);

    [Fact]
    public void Decode_refuses_probabilities_of_the_wrong_width()
    {
        using var t = Tensor.Zeros(_cpu, DType.F32, new Shape(1, 3, 5));
        Assert.Contains("[1, 3, 5]", Assert.Throws<TesseraException>(() => PpOcrRecognizer.DecodeGreedy(t, ["", "a"])).Message);
    }

    [Fact]
    public void Batch_width_is_48_times_the_widest_ratio_and_at_least_320()
    {
        var small = new Image(new byte[10 * 20 * 3], 20, 10, 3);   // ratio 2
        var wide = new Image(new byte[10 * 100 * 3], 100, 10, 3);  // ratio 10
        Assert.Equal(320, PpOcrPreprocess.BatchWidth([small]));
        Assert.Equal(480, PpOcrPreprocess.BatchWidth([small, wide]));
    }

    [Fact]
    public void Batch_is_bgr_normalised_and_zero_padded_on_the_right()
    {
        // A 2x4 RGB image of one colour: resized to 48 x 96 (ceil(48 * 4 / 2)) inside a 320-wide canvas.
        var px = new byte[2 * 4 * 3];
        for (int i = 0; i < 8; i++) { px[3 * i] = 255; px[3 * i + 1] = 0; px[3 * i + 2] = 51; } // R, G, B
        using var t = PpOcrPreprocess.Batch(_cpu, [new Image(px, 4, 2, 3)]);
        Assert.Equal([1, 3, 48, 320], t.Shape.Dims.ToArray());
        var v = t.ToFloatArray();
        float At(int c, int y, int x) => v[(c * 48 + y) * 320 + x];
        Assert.Equal((51 / 255f - 0.5f) / 0.5f, At(0, 10, 50), 6);  // channel 0 is blue
        Assert.Equal(-1f, At(1, 10, 50), 6);                        // green
        Assert.Equal(1f, At(2, 47, 95), 6);                         // red, last resized column
        Assert.Equal(0f, At(2, 47, 96));                            // padding
        Assert.Equal(0f, At(0, 0, 319));
    }

    [Fact]
    public void Bgr_and_gray_inputs_give_the_same_channel_order()
    {
        var rgb = new Image([10, 20, 30], 1, 1, 3);
        var bgr = new Image([30, 20, 10], 1, 1, 3, Bgr: true);
        Assert.Equal(PpOcrPreprocess.ResizeBilinear(rgb, 2, 2), PpOcrPreprocess.ResizeBilinear(bgr, 2, 2));
        Assert.Equal(new byte[] { 30, 20, 10 }, PpOcrPreprocess.ResizeBilinear(rgb, 1, 1));
        Assert.Equal(new byte[] { 7, 7, 7 }, PpOcrPreprocess.ResizeBilinear(new Image([7], 1, 1, 1), 1, 1));
    }

    [Fact]
    public void Bilinear_resize_matches_opencv_half_pixel_rule()
    {
        // One row 0, 100, 200 upsampled x2 horizontally: cv2.resize gives 0, 25, 75, 125, 175, 200.
        var img = new Image([0, 100, 200], 3, 1, 1);
        var r = PpOcrPreprocess.ResizeBilinear(img, 6, 1);
        Assert.Equal(new byte[] { 0, 25, 75, 125, 175, 200 }, Enumerable.Range(0, 6).Select(i => r[i * 3]).ToArray());
    }

    [Fact]
    public void Malformed_images_are_refused()
    {
        Assert.Throws<TesseraException>(() => PpOcrPreprocess.Batch(_cpu, [new Image(new byte[5], 2, 1, 3)]));
        Assert.Throws<TesseraException>(() => PpOcrPreprocess.Batch(_cpu, [new Image([], 0, 1, 3)]));
        Assert.Throws<TesseraException>(() => PpOcrPreprocess.Batch(_cpu, []));
    }
}
