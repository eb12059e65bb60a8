using System.Runtime.InteropServices;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>GatherKernels.IndexSelect on the CPU accelerator against a naive reference (dst[.., j, ..] =
/// x[.., ids[j], ..] by multi-indices): every axis of a permuted (non-contiguous) x, repeated ids, i32 and i64 ids read
/// with a stride, 2- and 4-byte elements, and the clamp of an out-of-range id.</summary>
public sealed class IndexSelectKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    // x [3, 5, 4] is a permuted view of a stored [4, 3, 5] buffer (x[a, b, c] = buf[2 + c * 15 + a * 5 + b]).
    private static readonly int[] Dims = [3, 5, 4];
    private static readonly long[] Strides = [5, 1, 15];
    private const long Offset = 2;

    private void Run(int dtype, byte[] x, int axis, long[] ids, int idType, byte[] dst, long idStride = 2)
    {
        var idMem = new long[ids.Length * idStride + 1];
        for (int j = 0; j < ids.Length; j++) idMem[1 + j * idStride] = ids[j]; // from element 1, every idStride-th
        int[] dd = [.. Dims]; dd[axis] = ids.Length;
        long[] xs = [.. Strides]; xs[axis] = 0; // x seen in dst's shape, stride 0 along the axis
        long inner = 1;
        for (int i = axis + 1; i < 3; i++) inner *= dd[i];
        long n = (long)dd[0] * dd[1] * dd[2];
        using var bx = _h.Upload(x);
        using var bi = idType == ElementCodes.I64 ? _h.Bytes(idMem) : _h.Bytes(idMem.Select(v => (int)v).ToArray());
        using var bd = _h.Zeros<byte>(dst.Length);
        _h.Launch(typeof(GatherKernels), nameof(GatherKernels.IndexSelect), grid: 3, group: 8,
            bx.View, Layout(dtype, Offset, dd, xs), Strides[axis], (long)Dims[axis], bi.View, 1L, idStride, idType,
            (long)ids.Length, inner, bd.View, 0L, n);
        _h.Download(bd).CopyTo(dst, 0);
    }

    private static T At<T>(T[] buf, int a, int b, int c) => buf[Offset + a * Strides[0] + b * Strides[1] + c * Strides[2]];

    [Theory]
    [InlineData(0, ElementCodes.I32)] [InlineData(1, ElementCodes.I64)] [InlineData(2, ElementCodes.I32)] [InlineData(1, ElementCodes.I32)]
    public void Selects_along_any_axis_of_a_permuted_f32_view(int axis, int idType)
    {
        var buf = Values(2 + 60, axis * 10 + idType);
        long[] ids = [.. Enumerable.Range(0, 7).Select(j => (long)((j * 3 + 1) % Dims[axis]))]; // repeats
        int[] dd = [.. Dims]; dd[axis] = ids.Length;
        var got = new byte[dd[0] * dd[1] * dd[2] * 4];
        Run(ElementCodes.F32, MemoryMarshal.AsBytes(buf.AsSpan()).ToArray(), axis, ids, idType, got);
        var g = MemoryMarshal.Cast<byte, float>(got);
        for (int a = 0; a < dd[0]; a++)
            for (int b = 0; b < dd[1]; b++)
                for (int c = 0; c < dd[2]; c++)
                {
                    int[] s = [a, b, c];
                    s[axis] = (int)ids[s[axis]];
                    Assert.Equal(At(buf, s[0], s[1], s[2]), g[(a * dd[1] + b) * dd[2] + c]);
                }
    }

    [Fact]
    public void Copies_f16_elements_and_clamps_out_of_range_ids()
    {
        Half[] buf = [.. Values(2 + 60, 7).Select(v => (Half)v)];
        long[] ids = [4, -3, 9, 0]; // -3 and 9 are out of range for the 5 rows of axis 1: clamped to 0 and 4
        var got = new byte[3 * 4 * 4 * 2];
        Run(ElementCodes.F16, MemoryMarshal.AsBytes(buf.AsSpan()).ToArray(), 1, ids, ElementCodes.I64, got, idStride: 1);
        var g = MemoryMarshal.Cast<byte, Half>(got);
        long[] clamped = [4, 0, 4, 0];
        for (int a = 0; a < 3; a++)
            for (int j = 0; j < 4; j++)
                for (int c = 0; c < 4; c++)
                    Assert.Equal(At(buf, a, (int)clamped[j], c), g[(a * 4 + j) * 4 + c]);
    }
}
