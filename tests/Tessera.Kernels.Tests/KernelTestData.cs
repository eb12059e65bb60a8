using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Tessera.Tests.Reference;

namespace Tessera.Kernels.Tests;

/// <summary>Shared helpers of the family tests: random data, byte buffers of typed data, layouts and the nmse check.</summary>
internal static class KernelTestData
{
    public static float[] Values(int n, int seed, float lo = -2f, float hi = 2f)
    {
        var r = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(lo + (hi - lo) * r.NextDouble()))];
    }

    /// <summary>ggml's rule: mse(a, b) / mse(a, 0) under the bound (1e-7 for f32).</summary>
    public static void AssertClose(double[] want, float[] got, double nmse = 1e-7)
    {
        Assert.Equal(want.Length, got.Length);
        Nmse.Below(want, got, nmse, "kernel output");
    }

    public static MemoryBuffer1D<byte, Stride1D.Dense> Bytes<T>(this CpuKernelHarness h, T[] data) where T : unmanaged =>
        h.Upload(MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    public static float[] F32(this CpuKernelHarness h, MemoryBuffer1D<byte, Stride1D.Dense> b, int count) =>
        MemoryMarshal.Cast<byte, float>(h.Download(b)).ToArray()[..count];

    /// <summary>Right-aligned dims and strides (elements) in six slots.</summary>
    public static StridedLayout Layout(int dtype, long offset, int[] dims, long[] strides) =>
        ElementwiseKernelTests.Layout(dtype, offset, dims, strides);

    /// <summary>A layout with no dimensions: just a dtype and a start (a single matrix, a row table).</summary>
    public static StridedLayout At(int dtype, long offset = 0) => Layout(dtype, offset, [], []);

    public static ushort Bf16(float v)
    {
        uint u = BitConverter.SingleToUInt32Bits(v);
        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }

    public static float FromBf16(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    public static Nd Nd(int[] shape, IEnumerable<float> data) => new(shape, [.. data.Select(v => (double)v)]);
}
