using System.Globalization;
using System.Runtime.InteropServices;
using Tessera.Imaging;

namespace Tessera.Formats.Tests.Imaging;

/// <summary>Resizing and vision preprocessing against Pillow itself (Python/pil_reference.py, run by Debian's
/// python3): <see cref="PillowResize"/> must give Pillow's bytes exactly, for every filter, up and down, on odd sizes
/// and gray and RGB images; <see cref="ImageProcessor"/> must give the pixel values of transformers' CLIP and ViT
/// processors (whose steps the script writes out with Pillow and numpy) within 1e-5. (Pillow resizes RGBA through
/// premultiplied alpha; Tessera resizes channels alike, and the processors convert to RGB first, so RGBA is not compared.)</summary>
public class ImageProcessorTests
{
    private static readonly Lazy<Dictionary<string, byte[]>> s_reference = new(RunReference);

    private static readonly (int W, int H, int C, int OW, int OH, ResizeFilter F)[] ResizeCases =
    [
        (37, 23, 3, 224, 224, ResizeFilter.Bicubic), (37, 23, 3, 11, 7, ResizeFilter.Bicubic), (300, 157, 3, 224, 117, ResizeFilter.Bicubic),
        (65, 33, 3, 17, 61, ResizeFilter.Bilinear), (65, 33, 1, 130, 9, ResizeFilter.Bilinear), (101, 99, 3, 33, 33, ResizeFilter.Box),
        (29, 31, 3, 57, 13, ResizeFilter.Lanczos), (29, 31, 3, 13, 57, ResizeFilter.Hamming), (17, 19, 3, 40, 7, ResizeFilter.Nearest),
        (640, 480, 3, 224, 168, ResizeFilter.Bicubic), (7, 500, 3, 3, 214, ResizeFilter.Bicubic), (1, 1, 3, 5, 3, ResizeFilter.Bicubic),
    ];

    private static readonly (int W, int H, ImageProcessorOptions O)[] ProcessCases =
    [
        (300, 157, ImageProcessorOptions.Clip()), (157, 300, ImageProcessorOptions.Clip()), (225, 224, ImageProcessorOptions.Clip()),
        (640, 481, ImageProcessorOptions.Clip(336)), (150, 90, ImageProcessorOptions.Clip()), (97, 61, ImageProcessorOptions.Vit()),
        (333, 251, ImageProcessorOptions.Siglip()), (61, 97, ImageProcessorOptions.Vit(33)),
        // A crop larger than the resized image: transformers pads with zeros around it.
        (91, 50, ImageProcessorOptions.Clip(40) with { CropWidth = 60, CropHeight = 44 }),
    ];

    public static IEnumerable<object[]> ResizeIndexes() => Enumerable.Range(0, ResizeCases.Length).Select(i => new object[] { i });

    public static IEnumerable<object[]> ProcessIndexes() => Enumerable.Range(0, ProcessCases.Length).Select(i => new object[] { i });

    [SkippableTheory]
    [MemberData(nameof(ResizeIndexes))]
    public void Resize_equals_Pillow(int i)
    {
        string? why = PythonOracle.Missing("PIL", "numpy");
        Skip.If(why is not null, why);
        var (w, h, c, ow, oh, f) = ResizeCases[i];
        var got = PillowResize.Resize(RandomImage(w, h, c, i), ow, oh, f);
        Assert.Equal((ow, oh, c), (got.Width, got.Height, got.Channels));
        var want = s_reference.Value[$"r{i}"];
        int diff = 0;
        for (int k = 0; k < want.Length; k++) if (want[k] != got.Pixels[k]) diff++;
        Assert.True(diff == 0, $"{f} {w}x{h}x{c} -> {ow}x{oh}: {diff} of {want.Length} bytes differ from Pillow's");
    }

    [SkippableTheory]
    [MemberData(nameof(ProcessIndexes))]
    public void Pixel_values_equal_the_Hugging_Face_processor_steps(int i)
    {
        string? why = PythonOracle.Missing("PIL", "numpy");
        Skip.If(why is not null, why);
        var (w, h, o) = ProcessCases[i];
        var got = ImageProcessor.Process(RandomImage(w, h, 3, 100 + i), o);
        var want = MemoryMarshal.Cast<byte, float>(s_reference.Value[$"p{i}"]).ToArray();
        var (ow, oh) = o.OutputSize(w, h);
        Assert.Equal(3 * ow * oh, want.Length);
        Assert.Equal(want.Length, got.Length);
        double max = 0;
        for (int k = 0; k < want.Length; k++) max = Math.Max(max, Math.Abs(want[k] - got[k]));
        Assert.True(max < 1e-5, $"{w}x{h} -> {ow}x{oh}: max |diff| {max}");
    }

    [Fact]
    public void Batch_tensor_stacks_images_and_refuses_mixed_sizes()
    {
        using var cpu = new Tessera.Cpu.CpuBackend(new Tessera.Cpu.CpuBackendOptions(Threads: 1));
        var a = RandomImage(50, 40, 3, 1);
        var b = RandomImage(41, 77, 4, 2) with { Bgr = true };
        using var t = ImageProcessor.ToTensor(cpu, [a, b], ImageProcessorOptions.Clip(24));
        Assert.Equal(new Shape(2, 3, 24, 24), t.Shape);
        Assert.Equal(ImageProcessor.Process(b, ImageProcessorOptions.Clip(24)), t.ToFloatArray()[(3 * 24 * 24)..]);
        var noCrop = ImageProcessorOptions.Clip(24) with { CropWidth = null, CropHeight = null };
        var e = Assert.Throws<TesseraException>(() => ImageProcessor.ToTensor(cpu, [a, b], noCrop));
        Assert.Contains("one size", e.Message);
    }

    [Fact]
    public void Bad_images_and_options_are_refused_with_a_message()
    {
        Assert.Contains("positive size", Assert.Throws<TesseraException>(() => new Image([], 0, 0).Validate()).Message);
        Assert.Contains("needs 12 bytes", Assert.Throws<TesseraException>(() => new Image(new byte[5], 2, 2).Validate()).Message);
        var img = RandomImage(9, 9, 3, 0);
        Assert.Contains("9x9", Assert.Throws<TesseraException>(() => PillowResize.Resize(img, 0, 5, ResizeFilter.Bicubic)).Message);
        Assert.Contains("9x9", Assert.Throws<TesseraException>(() => PillowResize.Resize(img, 50_000, 50_000, ResizeFilter.Bicubic)).Message);
        Assert.Contains("inside", Assert.Throws<TesseraException>(() => ImageCrop.Crop(img, 5, 5, 5, 5)).Message);
        Assert.Contains("mean", Assert.Throws<TesseraException>(() => ImageProcessor.Process(img, ImageProcessorOptions.Vit() with { Mean = [0.5f] })).Message);
        // A 50,000 x 50,000 image is refused by its size alone, before its pixels would be touched.
        var huge = new Image(new byte[3], 50_000, 50_000, 3);
        Assert.Throws<TesseraException>(() => ImageProcessor.Process(huge, ImageProcessorOptions.Clip()));
    }

    private static Image RandomImage(int w, int h, int c, int seed)
    {
        var r = new Random(seed * 7919 + w);
        var px = new byte[w * h * c];
        // Smooth gradients plus noise: resampling errors show on both edges and flat areas.
        for (int y = 0, k = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < c; ch++, k++)
                    px[k] = (byte)Math.Clamp((x * 255 / Math.Max(w - 1, 1) + y * (ch + 1) * 37 / Math.Max(h, 1)) % 256 + r.Next(-40, 41), 0, 255);
        return new Image(px, w, h, c);
    }

    private static Dictionary<string, byte[]> RunReference()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-pil-").FullName;
        try
        {
            var lines = new List<string>();
            var keys = new List<(string Key, string File)>();
            string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
            for (int i = 0; i < ResizeCases.Length; i++)
            {
                var (w, h, c, ow, oh, f) = ResizeCases[i];
                string file = Path.Combine(dir, $"r{i}.raw");
                File.WriteAllBytes(file, RandomImage(w, h, c, i).Pixels);
                lines.Add($"resize {w} {h} {c} {ow} {oh} {(int)f} {file}");
                keys.Add(($"r{i}", file));
            }
            for (int i = 0; i < ProcessCases.Length; i++)
            {
                var (w, h, o) = ProcessCases[i];
                string file = Path.Combine(dir, $"p{i}.raw");
                File.WriteAllBytes(file, RandomImage(w, h, 3, 100 + i).Pixels);
                string mode = o.Resize == ResizeMode.Exact ? "exact" : "shortest";
                lines.Add($"process {w} {h} {mode} {o.Width} {o.Height} {o.ShortestEdge} {(int)o.Filter} {o.CropWidth ?? 0} {o.CropHeight ?? 0} " +
                          $"{string.Join(",", o.Mean!.Select(v => F(v)))} {string.Join(",", o.Std!.Select(v => F(v)))} {file}");
                keys.Add(($"p{i}", file));
            }
            string cases = Path.Combine(dir, "cases.txt");
            File.WriteAllLines(cases, lines);
            PythonOracle.RunScript("pil_reference.py", cases);
            return keys.ToDictionary(k => k.Key, k => File.ReadAllBytes(k.File + ".out"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
