using Tessera.Imaging;
using Tessera.Cpu;
using Tessera.Models.Ocr;

namespace Tessera.Models.Tests;

/// <summary>Detector input sizes, perspective crops and turns.</summary>
public sealed class OcrCropTests
{
    private static Image Noise(int w, int h, int seed)
    {
        var px = new byte[w * h * 3];
        new Random(seed).NextBytes(px);
        return new Image(px, w, h, 3, Bgr: true);
    }

    [Theory]
    [InlineData(800, 240, 800, 256)]   // 240 / 32 = 7.5 rounds half to even: 8
    [InlineData(1920, 1080, 960, 544)] // ratio 0.5: 960 x 540 -> 544
    [InlineData(20, 10, 32, 32)]       // at least 32
    [InlineData(1000, 3000, 320, 960)] // tall: the height is the longer side
    public void DetSize_FollowsDetResizeForTest(int w, int h, int ew, int eh)
    {
        Assert.Equal((ew, eh), OcrImageOps.DetSize(w, h, 960, "max"));
    }

    [Fact]
    public void DetInput_NormalisesBgrWithImageNetStatistics()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        var px = new byte[64 * 32 * 3];
        for (int i = 0; i < 64 * 32; i++) { px[3 * i] = 10; px[3 * i + 1] = 128; px[3 * i + 2] = 250; } // B, G, R
        using var t = OcrImageOps.DetInput(cpu, new Image(px, 64, 32, 3, Bgr: true), new OcrOptions(), out int w, out int h);
        Assert.Equal((64, 32), (w, h));
        var v = t.ToFloatArray();
        Assert.Equal((10 / 255f - 0.485f) / 0.229f, v[0], 4);
        Assert.Equal((128 / 255f - 0.456f) / 0.224f, v[64 * 32], 4);
        Assert.Equal((250 / 255f - 0.406f) / 0.225f, v[2 * 64 * 32], 4);
    }

    [Fact]
    public void PerspectiveCropOfAnAxisAlignedBox_IsThePlainCrop()
    {
        var img = Noise(50, 30, 1);
        var crop = OcrImageOps.CropQuad(img, [new P(7, 5), new P(37, 5), new P(37, 17), new P(7, 17)]);
        Assert.Equal((30, 12), (crop.Width, crop.Height));
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 30; x++)
                for (int c = 0; c < 3; c++)
                    Assert.Equal(img.Pixels[((y + 5) * 50 + x + 7) * 3 + c], crop.Pixels[(y * 30 + x) * 3 + c]);
    }

    [Fact]
    public void TallCrops_AreTurnedCounterClockwise()
    {
        var img = Noise(40, 60, 2);
        var crop = OcrImageOps.CropQuad(img, [new P(5, 5), new P(15, 5), new P(15, 35), new P(5, 35)]);
        Assert.Equal((30, 10), (crop.Width, crop.Height));
        // np.rot90: output (x, y) is the plain crop's (w - 1 - y, x); the plain crop's (cx, cy) is image (cx + 5, cy + 5).
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 30; x++)
                Assert.Equal(img.Pixels[((x + 5) * 40 + (9 - y) + 5) * 3], crop.Pixels[(y * 30 + x) * 3]);
    }

    [Fact]
    public void Rotate180_TwiceIsIdentity_AndReversesPixels()
    {
        var img = Noise(7, 3, 3);
        var r = OcrImageOps.Rotate180(img);
        Assert.Equal(img.Pixels.AsSpan(0, 3).ToArray(), r.Pixels.AsSpan((7 * 3 - 1) * 3, 3).ToArray());
        Assert.Equal(img.Pixels, OcrImageOps.Rotate180(r).Pixels);
    }

    [Fact]
    public void ClsBatch_IsLeftAlignedAt48x192()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
        var white = new Image(Enumerable.Repeat((byte)255, 48 * 96 * 3).ToArray(), 96, 48, 3, Bgr: true);
        using var t = OcrImageOps.ClsBatch(cpu, [white]);
        Assert.Equal([1, 3, 48, 192], t.Shape.Dims.ToArray());
        var v = t.ToFloatArray();
        Assert.Equal(1f, v[95]);  // inside the resized crop
        Assert.Equal(0f, v[96]);  // the zero padding
    }
}
