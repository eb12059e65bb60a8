using Tessera.Models.Nn;

namespace Tessera.Models.Tests.Nn;

/// <summary>2-D rotary embeddings for patch grids against rope2d_reference.py, which writes each published layout as its
/// vision tower computes it (PyTorch, float64): Qwen2-VL's rot_pos_emb with 2 x 2 spatial merging (patch ids in merge
/// order, given to Tessera as explicit rows and columns) and Pixtral's table over a larger maximum grid indexed by
/// row * max_width + column. Whole heads are rotated (rotary width = head width), several heads.</summary>
public sealed class RotaryGridTorchTests : IDisposable
{
    private const int Heads = 3, HeadDim = 16;
    private readonly TorchReference _ref = new(23, "Nn/rope2d_reference.py");
    private readonly float[] _qwen, _pixtral;

    public RotaryGridTorchTests()
    {
        _qwen = _ref.Random("qwen.q", 1, 1, Heads, 4 * 6, HeadDim);
        _ref.Case("qwen", new() { ["kind"] = "rope2d_qwen2vl", ["rows"] = 4, ["cols"] = 6, ["merge"] = 2, ["theta"] = 10000.0 });
        _pixtral = _ref.Random("pixtral.q", 1, 1, Heads, 3 * 5, HeadDim);
        _ref.Case("pixtral", new() { ["kind"] = "rope2d_pixtral", ["rows"] = 3, ["cols"] = 5, ["max_side"] = 8, ["theta"] = 10000.0 });
        _ref.Run();
    }

    [SkippableFact]
    public void Qwen2_vl_rows_then_columns_with_merged_patch_order_match_pytorch()
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        // The patch order of a 2 x 2 spatial merge: blocks of four, row-major inside each block.
        int rows = 4, cols = 6;
        var r = new List<int>();
        var c = new List<int>();
        for (int br = 0; br < rows / 2; br++)
            for (int bc = 0; bc < cols / 2; bc++)
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++) { r.Add(2 * br + i); c.Add(2 * bc + j); }
        Assert.Equal(_ref.Expected("qwen.rows").Values, r.Select(v => (float)v).ToArray());   // the same order the reference made
        Assert.Equal(_ref.Expected("qwen.cols").Values, c.Select(v => (float)v).ToArray());
        using var wb = _ref.Builder();
        var rope = RotaryEmbedding.Create2D(wb, r.ToArray(), c.ToArray(), HeadDim, GridRopeLayout.RowsThenColumns);
        using var x = Tensor.FromArray(_ref.Cpu, _qwen, 1, Heads, rows * cols, HeadDim);
        using var y = rope.Apply(x);
        NnAssert.Close("qwen2-vl 2-D rope", y, _ref.Expected("qwen.y"));
        // The older overload is the same layout.
        var same = RotaryEmbedding.Create2D(wb, r.ToArray(), c.ToArray(), HeadDim);
        using var y2 = same.Apply(x);
        Assert.Equal(y.ToFloatArray(), y2.ToFloatArray());
    }

    [SkippableFact]
    public void Pixtral_alternating_frequencies_on_a_grid_inside_a_larger_table_match_pytorch()
    {
        Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);
        using var wb = _ref.Builder();
        var rope = RotaryEmbedding.Grid(wb, 3, 5, HeadDim, GridRopeLayout.AlternatingFrequencies);
        using var x = Tensor.FromArray(_ref.Cpu, _pixtral, 1, Heads, 15, HeadDim);
        using var y = rope.Apply(x);
        NnAssert.Close("pixtral 2-D rope", y, _ref.Expected("pixtral.y"));
        // Not the Qwen2-VL layout: the column pairs turn at other frequencies.
        var other = RotaryEmbedding.Grid(wb, 3, 5, HeadDim, GridRopeLayout.RowsThenColumns);
        using var yo = other.Apply(x);
        Assert.NotEqual(y.ToFloatArray(), yo.ToFloatArray());
    }

    [Fact]
    public void Bad_grids_are_refused_naming_the_problem()
    {
        using var wb = _ref.Builder();
        Assert.Contains("multiple of 4", Assert.Throws<TesseraException>(() => RotaryEmbedding.Grid(wb, 2, 2, 6, GridRopeLayout.AlternatingFrequencies)).Message);
        Assert.Contains("2 row ids but 1 column ids", Assert.Throws<TesseraException>(() => RotaryEmbedding.Create2D(wb, [0, 1], [0], 8, GridRopeLayout.AlternatingFrequencies)).Message);
        Assert.Contains("must be positive", Assert.Throws<TesseraException>(() => RotaryEmbedding.Grid(wb, 0, 3, 8, GridRopeLayout.AlternatingFrequencies)).Message);
        Assert.Contains("non-negative", Assert.Throws<TesseraException>(() => RotaryEmbedding.Create2D(wb, [-1], [0], 8, GridRopeLayout.AlternatingFrequencies)).Message);
    }

    public void Dispose() => _ref.Dispose();
}
