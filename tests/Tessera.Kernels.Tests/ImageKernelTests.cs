using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>ImageKernels on the CPU accelerator against NaiveImageOps.</summary>
public sealed class ImageKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    [Theory]
    [InlineData(5, 7, 11, 13, false)] [InlineData(5, 7, 11, 13, true)] [InlineData(16, 12, 7, 5, false)]
    [InlineData(9, 9, 1, 1, true)] [InlineData(1, 4, 3, 8, false)]
    public void Bicubic_matches_pytorch_semantics(int h, int w, int oh, int ow, bool alignCorners)
    {
        // x [2, 3, h, w] stored as [2, 3, w, h] (H and W swapped in memory), so rows are read with stride h.
        const int planes = 6;
        var buf = Values(planes * h * w, 1);
        var xv = new double[planes * h * w];
        for (int p = 0; p < planes; p++) for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) xv[(p * h + y) * w + x] = buf[p * h * w + x * h + y];
        int total = planes * oh * ow;
        using var bx = _h.Bytes(buf); using var bd = _h.Zeros<byte>(total * 4);
        _h.Launch(typeof(ImageKernels), nameof(ImageKernels.Bicubic), grid: 2, group: 32,
            bx.View, Layout(ElementCodes.F32, 0, [2, 3], [3L * h * w, (long)h * w]), 1L, (long)h, h, w,
            bd.View, Layout(ElementCodes.F32, 0, [total], [1]), oh, ow, alignCorners ? 1 : 0, (long)total);
        var want = NaiveImageOps.Bicubic(new Nd([2, 3, h, w], xv), oh, ow, alignCorners);
        AssertClose(want.Data, _h.F32(bd, total));
    }
}
