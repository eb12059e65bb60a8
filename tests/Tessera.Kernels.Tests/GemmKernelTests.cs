using Tessera.Tests.Reference;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>GemmKernels.Tiled on the CPU accelerator against NaiveOps.MatMul: sizes that are not multiples of the
/// 64x64x16 tile, transposed (column-major) operands, broadcast batches, f16/bf16 inputs and the full epilogue.</summary>
public sealed class GemmKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    public void Dispose() => _h.Dispose();

    private static GemmArgs Args(int m, int n, int k, int batch, long ars, long acs, long brs, long bcs) => new()
    {
        M = m, N = n, K = k, Batch = batch, ARs = ars, ACs = acs, BRs = brs, BCs = bcs, Act = -1, BiasDType = -1,
    };

    [Theory]
    [InlineData(1, 1, 1)] [InlineData(7, 7, 7)] [InlineData(33, 33, 33)] [InlineData(64, 64, 64)]
    [InlineData(1, 64, 33)] [InlineData(33, 7, 64)] [InlineData(64, 1, 7)] [InlineData(7, 33, 1)]
    public void F32_row_major_matches_the_reference(int m, int n, int k)
    {
        var a = Values(m * k, 1); var b = Values(k * n, 2);
        using var ba = _h.Bytes(a); using var bb = _h.Bytes(b); using var bc = _h.Zeros<byte>(m * n * 4);
        using var none = _h.Zeros<byte>(4);
        _h.Launch(typeof(GemmKernels), nameof(GemmKernels.Tiled), grid: 1, group: GemmKernels.Threads,
            ba.View, At(ElementCodes.F32), bb.View, At(ElementCodes.F32), bc.View, At(ElementCodes.F32),
            none.View, none.View, At(ElementCodes.F32), none.View, At(ElementCodes.F32), Args(m, n, k, 1, k, 1, n, 1));
        var want = NaiveOps.MatMul(Nd([m, k], a), Nd([k, n], b));
        AssertClose(want.Data, _h.F32(bc, m * n));
    }

    [Theory]
    [InlineData(false)] [InlineData(true)]
    public void Transposed_operands_broadcast_batch_bias_gelu_multiplier_and_transposed_residual(bool gated)
    {
        // batch 2; A[b] is the transpose of a stored [K, M] matrix, B is one stored [N, K] matrix transposed and
        // broadcast over the batch (stride 0); the residual is a transposed [N, M] per batch; the multiplier (the
        // gated MLP's up projection) one bf16 [M, N] broadcast over the batch. 2 x 2 tiles per batch, run on a grid
        // of 3 blocks so the grid-stride loop wraps.
        const int batch = 2, m = 70, n = 65, k = 19;
        var a = Values(batch * k * m, 3); var b = Values(n * k, 4); var bias = Values(n, 5); var r = Values(batch * n * m, 6);
        ushort[] mul = [.. Values(m * n, 9).Select(Bf16)];
        using var ba = _h.Bytes(a); using var bb = _h.Bytes(b); using var bbias = _h.Bytes(bias); using var br = _h.Bytes(r);
        using var bm = _h.Bytes(mul);
        using var bc = _h.Zeros<byte>(batch * m * n * 4);
        var al = Layout(ElementCodes.F32, 0, [batch], [k * m]);
        var bl = Layout(ElementCodes.F32, 0, [batch], [0]);
        var cl = Layout(ElementCodes.F32, 0, [batch], [m * n]);
        var rl = Layout(ElementCodes.F32, 0, [batch], [n * m]);
        var g = Args(m, n, k, batch, 1, m, 1, k);
        g.BiasDType = ElementCodes.F32; g.BiasStride = 1; g.Act = OpCodes.Gelu; g.HasResidual = 1; g.RRs = 1; g.RCs = m;
        if (gated) { g.HasMultiplier = 1; g.MRs = n; g.MCs = 1; }
        _h.Launch(typeof(GemmKernels), nameof(GemmKernels.Tiled), grid: 3, group: GemmKernels.Threads,
            ba.View, al, bb.View, bl, bc.View, cl, bbias.View, br.View, rl, bm.View, Layout(ElementCodes.BF16, 0, [batch], [0]), g);

        var at = new double[batch * m * k]; var bt = new double[k * n]; var rt = new double[batch * m * n];
        for (int t = 0; t < batch; t++)
            for (int i = 0; i < m; i++)
            {
                for (int p = 0; p < k; p++) at[(t * m + i) * k + p] = a[t * k * m + p * m + i];
                for (int j = 0; j < n; j++) rt[(t * m + i) * n + j] = r[t * n * m + j * m + i];
            }
        for (int p = 0; p < k; p++) for (int j = 0; j < n; j++) bt[p * n + j] = b[j * k + p];
        var want = NaiveOps.MatMul(new Nd([batch, m, k], at), new Nd([1, k, n], bt), Nd([n], bias), Activation.Gelu, null);
        for (int i = 0; i < want.Length; i++)
            want.Data[i] = want.Data[i] * (gated ? FromBf16(mul[i % (m * n)]) : 1.0) + rt[i];
        AssertClose(want.Data, _h.F32(bc, batch * m * n));
    }

    [Theory]
    [InlineData(ElementCodes.F16, ElementCodes.BF16, ElementCodes.F32)]
    [InlineData(ElementCodes.BF16, ElementCodes.BF16, ElementCodes.BF16)]
    [InlineData(ElementCodes.F16, ElementCodes.F16, ElementCodes.F16)]
    public void Half_precision_inputs_accumulate_in_f32(int adt, int bdt, int cdt)
    {
        const int m = 33, n = 40, k = 37;
        var a = Values(m * k, 7); var b = Values(k * n, 8);
        (byte[] bytes, double[] values) Encode(float[] v, int dt) => dt == ElementCodes.F16
            ? (System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.Select(x => (System.Half)x).ToArray().AsSpan()).ToArray(), [.. v.Select(x => (double)(float)(System.Half)x)])
            : (System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.Select(Bf16).ToArray().AsSpan()).ToArray(), [.. v.Select(x => (double)FromBf16(Bf16(x)))]);
        var (ab, av) = Encode(a, adt); var (bbytes, bv) = Encode(b, bdt);
        using var ba = _h.Upload(ab); using var bb = _h.Upload(bbytes); using var bc = _h.Zeros<byte>(m * n * 4);
        using var none = _h.Zeros<byte>(4);
        var g = Args(m, n, k, 1, k, 1, n, 1);
        g.Act = OpCodes.Silu;
        _h.Launch(typeof(GemmKernels), nameof(GemmKernels.Tiled), grid: 1, group: GemmKernels.Threads,
            ba.View, At(adt), bb.View, At(bdt), bc.View, At(cdt), none.View, none.View, At(ElementCodes.F32), none.View, At(ElementCodes.F32), g);
        var want = NaiveOps.MatMul(new Nd([m, k], av), new Nd([k, n], bv), null, Activation.Silu);
        var raw = _h.Download(bc);
        float[] got = cdt == ElementCodes.F32 ? _h.F32(bc, m * n)
            : cdt == ElementCodes.F16 ? [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, System.Half>(raw)[..(m * n)].ToArray().Select(h => (float)h)]
            : [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(raw)[..(m * n)].ToArray().Select(FromBf16)];
        // f32 output: f32 accumulation error only; f16/bf16 output adds one rounding (2^-11 / 2^-8 relative).
        AssertClose(want.Data, got, cdt == ElementCodes.F32 ? 1e-7 : cdt == ElementCodes.F16 ? 1e-6 : 3e-5);
    }
}
