using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Tests.Nn;

/// <summary>Embedding, GroupNorm, PatchEmbedding (positions interpolated from a 3x5 grid to 4x6), TimestepEmbedding
/// and DiT's AdaLayerNorm against PyTorch (nn.GroupNorm, F.conv2d + F.interpolate as Hugging Face's
/// interpolate_pos_encoding, diffusers' get_timestep_embedding and DiT's modulate written out, in float64).</summary>
public sealed class VisionDiffusionLayerTests(VisionDiffusionLayerTests.Cases cases) : IClassFixture<VisionDiffusionLayerTests.Cases>
{
    private const int B = 2, D = 33, P = 3, GridRows = 3, GridCols = 5, Cond = 17;

    public sealed class Cases : IDisposable
    {
        public TorchReference Ref { get; } = new(seed: 37);

        public float[] EmbeddingTable { get; }

        public Cases()
        {
            var r = Ref;
            EmbeddingTable = r.Random("emb.weight", 1f, 17, D);
            r.Random("gn.norm.weight", 1f, D); r.Random("gn.norm.bias", 1f, D); r.Random("gn.x", 3f, B, D, 5, 7);
            r.Case("gn", new() { ["kind"] = "groupnorm", ["groups"] = 3, ["channels"] = D, ["eps"] = 1e-5, ["affine"] = true });
            r.Random("gn_plain.x", 3f, B, D, 17);
            r.Case("gn_plain", new() { ["kind"] = "groupnorm", ["groups"] = 11, ["channels"] = D, ["eps"] = 1e-6, ["affine"] = false });

            // CLIP-style (class token, no projection bias) and SigLIP-style (no class token, bias), each at the trained
            // 3x5 grid and at 4x6 (interpolated).
            foreach (bool cls in new[] { true, false })
                foreach (var (h, w) in new[] { (GridRows, GridCols), (4, 6) })
                {
                    string name = $"patch_{(cls ? "cls" : "nocls")}_{h}x{w}";
                    var proj = r.Random($"{name}.pe.patch_embedding.weight", 0.3f, D, 3, P, P);
                    var extra = cls ? r.Random($"{name}.pe.class_embedding", 1f, D) : r.Random($"{name}.pe.patch_embedding.bias", 0.3f, D);
                    int n = GridRows * GridCols + (cls ? 1 : 0);
                    var pos = r.Random($"{name}.pe.position_embedding.weight", 1f, n, D);
                    if (cls)
                    {
                        // The same values under Hugging Face ViT's names and shapes (cls_token [1, 1, D], position_embeddings [1, N, D]).
                        r.Add($"{name}.vit.patch_embeddings.projection.weight", proj, D, 3, P, P);
                        r.Add($"{name}.vit.cls_token", extra, 1, 1, D);
                        r.Add($"{name}.vit.position_embeddings", pos, 1, n, D);
                    }
                    r.Random($"{name}.pixels", 1f, B, 3, h * P, w * P);
                    r.Case(name, new() { ["kind"] = "patch", ["dim"] = D, ["patch"] = P, ["gridRows"] = GridRows, ["gridCols"] = GridCols, ["classToken"] = cls });
                }

            foreach (var (name, dim, flip, shift) in new[] { ("te_dit", 33, true, 0.0), ("te_diffusers", 32, false, 1.0) })
            {
                r.Random($"{name}.te.linear_1.weight", 0.3f, Cond, dim); r.Random($"{name}.te.linear_1.bias", 0.3f, Cond);
                r.Random($"{name}.te.linear_2.weight", 0.3f, Cond, Cond); r.Random($"{name}.te.linear_2.bias", 0.3f, Cond);
                r.Add($"{name}.t", [0f, 1f, 17.5f, 999f], 4);
                r.Case(name, new() { ["kind"] = "timestep", ["dim"] = dim, ["hidden"] = Cond, ["flip"] = flip, ["shift"] = shift, ["maxPeriod"] = 10000.0 });
            }

            r.Random("ada.block.adaLN_modulation.1.weight", 0.3f, 6 * D, Cond); r.Random("ada.block.adaLN_modulation.1.bias", 0.3f, 6 * D);
            r.Random("ada.final.adaLN_modulation.1.weight", 0.3f, 2 * D, Cond); r.Random("ada.final.adaLN_modulation.1.bias", 0.3f, 2 * D);
            r.Random("ada.x", 2f, B, 7, D); r.Random("ada.c", 1f, B, Cond);
            r.Case("ada", new() { ["kind"] = "adaln", ["dim"] = D, ["condDim"] = Cond });
            r.Run();
        }

        public void Dispose() => Ref.Dispose();
    }

    private TorchReference Ref => cases.Ref;

    private static void SkipWithoutTorch() => Skip.If(TorchReference.Unavailable is not null, TorchReference.Unavailable);

    [Fact]
    public void Embedding_returns_the_rows_of_the_ids_and_names_an_id_out_of_range()
    {
        using var wb = Ref.Builder();
        var emb = Embedding.Load(wb.Pp("emb"), 17, D);
        Assert.Equal((17, D), (emb.Vocab, emb.Dim));
        var table = cases.EmbeddingTable;
        int[] ids = [3, 0, 16, 5, 5, 9];
        using var idsT = Tensor.FromArray(Ref.Cpu, ids, 2, 3);
        using var y = emb.Forward(idsT);
        Assert.Equal(new Shape(2, 3, D), y.Shape);
        var expected = ids.SelectMany(i => table.Skip(i * D).Take(D)).ToArray();
        Assert.Equal(expected, y.ToFloatArray());
        using var yHost = emb.Forward(ids);
        Assert.Equal(expected, yHost.ToFloatArray());
        var e = Assert.Throws<TesseraException>(() => emb.Forward([1, 17]));
        Assert.Contains("id 17 at position 1", e.Message);
        Assert.Contains("[17, 33]", e.Message);
        using var bad = Tensor.FromArray(Ref.Cpu, new[] { 2, -1 }, 2);
        Assert.Contains("-1", Assert.Throws<TesseraException>(() => emb.Forward(bad)).Message);
    }

    [SkippableTheory]
    [InlineData("gn"), InlineData("gn_plain")]
    public void GroupNorm_matches_nn_GroupNorm(string name)
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp(name);
        bool affine = name == "gn";
        var gn = GroupNorm.Load(c.Pp("norm"), affine ? 3 : 11, D, affine ? 1e-5f : 1e-6f, affine);
        using var y = gn.Forward(c.Get("x"));
        NnAssert.Close(name, y, Ref.Expected(name + ".y"));
    }

    [SkippableTheory]
    [InlineData(true, 3, 5), InlineData(true, 4, 6), InlineData(false, 3, 5), InlineData(false, 4, 6)]
    public void PatchEmbedding_matches_conv_and_interpolated_positions(bool cls, int rows, int cols)
    {
        SkipWithoutTorch();
        string name = $"patch_{(cls ? "cls" : "nocls")}_{rows}x{cols}";
        using var wb = Ref.Builder();
        var c = wb.Pp(name);
        var cfg = new PatchEmbeddingConfig(3, D, P, GridRows, GridCols) { ClassToken = cls, ProjectionBias = !cls };
        var pe = PatchEmbedding.Load(c.Pp("pe"), cfg);
        using var y = pe.Forward(c.Get("pixels"));
        Assert.Equal(new Shape(B, rows * cols + (cls ? 1 : 0), D), y.Shape);
        NnAssert.Close(name, y, Ref.Expected(name + ".y"));
        if (!cls) return;
        var vit = PatchEmbedding.Load(c.Pp("vit"), PatchEmbeddingConfig.Vit(3, D, P, GridRows) with { GridCols = GridCols, ProjectionBias = false });
        using var yVit = vit.Forward(c.Get("pixels"));
        NnAssert.Close(name + " (ViT names)", yVit, Ref.Expected(name + ".y"));
    }

    [SkippableTheory]
    [InlineData("te_dit", 33, true, 0.0), InlineData("te_diffusers", 32, false, 1.0)]
    public void TimestepEmbedding_matches_get_timestep_embedding_and_its_mlp(string name, int dim, bool flip, double shift)
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp(name);
        var te = TimestepEmbedding.Load(c.Pp("te"), dim, Cond, flip, shift);
        var t = c.Get("t");
        using var emb = TimestepEmbedding.Sinusoidal(t, dim, flip, shift);
        NnAssert.Close(name + " sinusoid", emb, Ref.Expected(name + ".emb"));
        using var y = te.Forward(t);
        NnAssert.Close(name, y, Ref.Expected(name + ".y"));
    }

    [SkippableFact]
    public void AdaLayerNorm_matches_DiT_modulate_and_gate()
    {
        SkipWithoutTorch();
        using var wb = Ref.Builder();
        var c = wb.Pp("ada");
        var block = AdaLayerNorm.Load(c.Pp("block"), D, Cond);
        var final = AdaLayerNorm.Load(c.Pp("final"), D, Cond, chunks: 2);
        var x = c.Get("x");
        using var m = block.Forward(c.Get("c"));
        Assert.Equal(6, m.Count);
        Assert.Equal(new Shape(B, 1, D), m.GateMlp.Shape);
        using var y = block.Modulate(x, m.ShiftMsa, m.ScaleMsa);
        NnAssert.Close("modulate", y, Ref.Expected("ada.mod"));
        using var g = AdaLayerNorm.GatedAdd(x, m.GateMsa, y);
        NnAssert.Close("gated residual", g, Ref.Expected("ada.gated"));
        using var f = final.Forward(c.Get("c"));
        using var yf = final.Modulate(x, f[0], f[1]);
        NnAssert.Close("final layer", yf, Ref.Expected("ada.final"));
    }
}
