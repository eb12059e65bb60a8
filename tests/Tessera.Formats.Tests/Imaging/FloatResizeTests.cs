using System.Runtime.InteropServices;
using Tessera.Imaging;

namespace Tessera.Formats.Tests.Imaging;

/// <summary><see cref="FloatResize"/> against PyTorch's F.interpolate (align_corners=False, with and without
/// antialias), run by Debian's python3-torch, on odd sizes up and down.</summary>
public class FloatResizeTests
{
    [SkippableTheory]
    [InlineData(3, 7, 11, 17, 5, "bilinear", false)]
    [InlineData(2, 33, 17, 9, 40, "bilinear", false)]
    [InlineData(3, 7, 11, 17, 5, "bicubic", false)]
    [InlineData(1, 14, 14, 24, 24, "bicubic", false)]
    [InlineData(3, 65, 33, 17, 9, "bilinear", true)]
    [InlineData(2, 65, 33, 17, 71, "bicubic", true)]
    public void Resize_equals_PyTorch(int c, int h, int w, int oh, int ow, string mode, bool antialias)
    {
        string? why = PythonOracle.Missing("torch", "numpy");
        Skip.If(why is not null, why);
        var r = new Random(c * 1000 + h * 31 + w);
        var x = new float[c * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        string dir = Directory.CreateTempSubdirectory("tessera-torch-").FullName;
        try
        {
            string inFile = Path.Combine(dir, "x.raw"), outFile = Path.Combine(dir, "y.raw");
            File.WriteAllBytes(inFile, MemoryMarshal.AsBytes(x.AsSpan()).ToArray());
            PythonOracle.RunScript("torch_resize.py", inFile, $"{c}", $"{h}", $"{w}", $"{oh}", $"{ow}", mode, antialias ? "1" : "0", outFile);
            var want = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outFile)).ToArray();
            var got = FloatResize.Resize(x, c, h, w, oh, ow, mode == "bilinear" ? ResizeFilter.Bilinear : ResizeFilter.Bicubic,
                antialias ? ResizeConvention.Antialiased : ResizeConvention.PyTorch);
            Assert.Equal(want.Length, got.Length);
            double max = 0;
            for (int i = 0; i < want.Length; i++) max = Math.Max(max, Math.Abs(want[i] - got[i]));
            Assert.True(max < 1e-5, $"{mode} aa={antialias} [{c}, {h}, {w}] -> [{oh}, {ow}]: max |diff| {max}");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Mismatched_sizes_are_refused()
    {
        var e = Assert.Throws<TesseraException>(() => FloatResize.Resize(new float[10], 1, 3, 3, 2, 2, ResizeFilter.Bilinear, ResizeConvention.PyTorch));
        Assert.Contains("[1, 3, 3]", e.Message);
    }
}
