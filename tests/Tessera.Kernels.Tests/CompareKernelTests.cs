using System.Numerics;
using System.Runtime.InteropServices;
using static Tessera.Kernels.Tests.KernelTestData;

namespace Tessera.Kernels.Tests;

/// <summary>CompareKernels (Compare, Where) on the CPU accelerator against naive references: broadcast (stride-0) and
/// transposed operands, NaN, integers past 2^53, raw copies of 1-, 2-, 4- and 8-byte elements. Grids smaller than the
/// element count, so the grid-stride loops wrap.</summary>
public sealed class CompareKernelTests : IDisposable
{
    private readonly CpuKernelHarness _h = new();
    private static readonly Type K = typeof(CompareKernels);
    public void Dispose() => _h.Dispose();

    /// <summary>The naive rule, written from IEEE 754 (comparisons with NaN are false, NotEqual is true).</summary>
    private static bool Ref<T>(int op, T a, T b) where T : IComparisonOperators<T, T, bool>, IEqualityOperators<T, T, bool> => op switch
    {
        CompareKernels.Equal => a == b, CompareKernels.NotEqual => a != b, CompareKernels.Less => a < b,
        CompareKernels.LessOrEqual => a <= b, CompareKernels.Greater => a > b, CompareKernels.GreaterOrEqual => a >= b,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    [Fact]
    public void Op_codes_are_the_engine_enum_values_in_order()
    {
        // The names follow the agreed CompareOp { Equal, NotEqual, Less, LessOrEqual, Greater, GreaterOrEqual }.
        Assert.Equal([0, 1, 2, 3, 4, 5], new[] { CompareKernels.Equal, CompareKernels.NotEqual, CompareKernels.Less,
            CompareKernels.LessOrEqual, CompareKernels.Greater, CompareKernels.GreaterOrEqual });
    }

    [Theory]
    [InlineData(CompareKernels.Equal)] [InlineData(CompareKernels.NotEqual)] [InlineData(CompareKernels.Less)]
    [InlineData(CompareKernels.LessOrEqual)] [InlineData(CompareKernels.Greater)] [InlineData(CompareKernels.GreaterOrEqual)]
    public void Compare_f32_with_a_transposed_operand_a_broadcast_row_and_nan(int op)
    {
        // a: [3, 7] the transpose of a stored [7, 3] (strides 1, 3) from element 1; b: [7] broadcast over 3 rows.
        const int rows = 3, cols = 7;
        var a = Values(1 + rows * cols, 1, -2f, 2f);
        var b = Values(cols, 2, -2f, 2f);
        for (int j = 0; j < cols; j += 2) a[1 + j * rows + 1] = b[j]; // equal pairs in row 1
        a[1] = float.NaN; b[3] = float.NaN;
        using var ba = _h.Bytes(a); using var bb = _h.Bytes(b); using var bd = _h.Zeros<byte>(rows * cols + 5);
        _h.Launch(K, nameof(CompareKernels.Compare), grid: 2, group: 4,
            ba.View, Layout(ElementCodes.F32, 1, [rows, cols], [1, rows]), bb.View, Layout(ElementCodes.F32, 0, [rows, cols], [0, 1]),
            bd.View, Layout(ElementCodes.U8, 2, [rows, cols], [cols, 1]), (long)(rows * cols), op);
        var got = _h.Download(bd);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                Assert.Equal(Ref(op, a[1 + i + j * rows], b[j]) ? 1 : 0, got[2 + i * cols + j]);
        Assert.Equal(0, got[0] + got[1]); // before dst's offset: untouched
    }

    [Theory]
    [InlineData(CompareKernels.Equal)] [InlineData(CompareKernels.Less)] [InlineData(CompareKernels.GreaterOrEqual)]
    public void Compare_integers_exactly_past_two_to_the_53(int op)
    {
        // i64 values one apart above 2^53 are equal as doubles; the kernel compares them as integers.
        long big = (1L << 53) + 1;
        long[] a = [big, big + 1, -5, 7, long.MaxValue, 0, -1];
        long[] b = [big + 1, big, -5, 8, long.MinValue, 0, 1];
        using var ba = _h.Bytes(a); using var bb = _h.Bytes(b); using var bd = _h.Zeros<byte>(a.Length);
        var l = Layout(ElementCodes.I64, 0, [a.Length], [1]);
        _h.Launch(K, nameof(CompareKernels.Compare), grid: 1, group: 4, ba.View, l, bb.View, l,
            bd.View, Layout(ElementCodes.U8, 0, [a.Length], [1]), (long)a.Length, op);
        Assert.Equal(a.Select((v, i) => (byte)(Ref(op, v, b[i]) ? 1 : 0)), _h.Download(bd));

        sbyte[] c = [-128, -1, 0, 5, 127]; sbyte[] d = [127, -1, 1, 5, -128];
        using var bc = _h.Bytes(c); using var bdd = _h.Bytes(d); using var bo = _h.Zeros<byte>(c.Length);
        var li = Layout(ElementCodes.I8, 0, [c.Length], [1]);
        _h.Launch(K, nameof(CompareKernels.Compare), grid: 1, group: 4, bc.View, li, bdd.View, li,
            bo.View, Layout(ElementCodes.U8, 0, [c.Length], [1]), (long)c.Length, op);
        Assert.Equal(c.Select((v, i) => (byte)(Ref(op, v, d[i]) ? 1 : 0)), _h.Download(bo));
    }

    [Fact]
    public void Compare_bf16_reads_the_stored_values()
    {
        float[] av = [1f, 1.00390625f, -0.5f, 3f, 0f]; float[] bv = [1f, 1f, -0.25f, 3f, -0f];
        ushort[] a = [.. av.Select(Bf16)], b = [.. bv.Select(Bf16)];
        using var ba = _h.Bytes(a); using var bb = _h.Bytes(b); using var bd = _h.Zeros<byte>(a.Length);
        var l = Layout(ElementCodes.BF16, 0, [a.Length], [1]);
        _h.Launch(K, nameof(CompareKernels.Compare), grid: 1, group: 4, ba.View, l, bb.View, l,
            bd.View, Layout(ElementCodes.U8, 0, [a.Length], [1]), (long)a.Length, CompareKernels.Equal);
        // 1.00390625 rounds to 1 in bf16 (ties to even), -0 equals 0.
        Assert.Equal(a.Select((v, i) => (byte)(FromBf16(v) == FromBf16(b[i]) ? 1 : 0)), _h.Download(bd));
        Assert.Equal([1, 1, 0, 1, 1], _h.Download(bd).Select(v => (int)v));
    }

    [Fact]
    public void Where_f32_with_a_broadcast_condition_and_a_transposed_operand()
    {
        // cond: [5] broadcast over 4 rows (column condition); a: [4, 5] transposed view; b: [4, 1] broadcast over columns.
        const int rows = 4, cols = 5;
        byte[] cond = [1, 0, 2, 0, 255];
        var a = Values(rows * cols, 3); var b = Values(rows, 4);
        using var bc = _h.Upload(cond); using var ba = _h.Bytes(a); using var bb = _h.Bytes(b); using var bd = _h.Zeros<byte>(rows * cols * 4);
        _h.Launch(K, nameof(CompareKernels.Where), grid: 2, group: 4,
            bc.View, Layout(ElementCodes.U8, 0, [rows, cols], [0, 1]), ba.View, Layout(ElementCodes.F32, 0, [rows, cols], [1, rows]),
            bb.View, Layout(ElementCodes.F32, 0, [rows, cols], [1, 0]), bd.View, Layout(ElementCodes.F32, 0, [rows, cols], [cols, 1]),
            (long)(rows * cols));
        var got = _h.F32(bd, rows * cols);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                Assert.Equal(cond[j] != 0 ? a[i + j * rows] : b[i], got[i * cols + j]);
    }

    [Fact]
    public void Where_copies_raw_bits_of_every_element_size()
    {
        byte[] cond = [1, 0, 0, 1, 1, 0, 1];
        using var bc = _h.Upload(cond);
        var cl = Layout(ElementCodes.U8, 0, [cond.Length], [1]);
        void Check<T>(int dtype, T[] a, T[] b) where T : unmanaged
        {
            using var ba = _h.Bytes(a); using var bb = _h.Bytes(b); using var bd = _h.Zeros<byte>(a.Length * Marshal.SizeOf<T>());
            var l = Layout(dtype, 0, [a.Length], [1]);
            _h.Launch(K, nameof(CompareKernels.Where), grid: 1, group: 4, bc.View, cl, ba.View, l, bb.View, l, bd.View, l, (long)a.Length);
            Assert.Equal(a.Select((v, i) => cond[i] != 0 ? v : b[i]), MemoryMarshal.Cast<byte, T>(_h.Download(bd)).ToArray());
        }
        Check(ElementCodes.I64, [long.MaxValue, 1, 2, -3, (1L << 53) + 1, 5, 6], [0L, -1, -2, -3, -4, -5, long.MinValue]);
        Check(ElementCodes.F16, [.. Values(7, 5).Select(v => (Half)v)], [.. Values(7, 6).Select(v => (Half)v)]);
        Check(ElementCodes.U8, new byte[] { 1, 2, 3, 4, 5, 6, 7 }, new byte[] { 9, 9, 9, 9, 9, 9, 9 });
        Check(ElementCodes.F32, [float.NaN, 1f, 2f, -0f, 4f, 5f, 6f], [0f, float.NaN, 0f, 0f, 0f, 0f, 0f]);
    }
}
