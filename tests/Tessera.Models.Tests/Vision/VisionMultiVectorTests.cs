using Tessera.Formats;
using Tessera.Models.Vision;

namespace Tessera.Models.Tests.Vision;

/// <summary>The per-patch and per-token vectors of multi-vector retrieval (<see cref="IMultiVectorModel"/>), from the
/// PyTorch reference's hidden states taken through the published output path in double precision: CLIP's patches
/// through post_layernorm and visual_projection, its tokens through text_projection; SigLIP's normed patches and its
/// text head; each L2-normalised. Cosine 0.99999 per vector.</summary>
public sealed class VisionMultiVectorTests(VisionReference r) : IClassFixture<VisionReference>
{
    [SkippableFact]
    public void Clip_patch_and_token_vectors_follow_the_pooled_path_of_the_reference()
    {
        Skip.If(VisionReference.Unavailable is not null, VisionReference.Unavailable);
        using var clip = Clip.Load(r.Cpu, r.Dir("clip"));
        using var wb = WeightBuilder.Open(r.Cpu, Path.Combine(r.Dir("clip"), "model.safetensors"));
        int d = VisionCases.VisionDim, p = 17, n = VisionCases.Grid * VisionCases.Grid;
        var hidden = VisionAssert.Rows(r.Expected("clip", "vision_last_hidden_state"), 1, n);
        var normed = LayerNorm(hidden.Values, d, wb.GetHost("vision_model.post_layernorm.weight"), wb.GetHost("vision_model.post_layernorm.bias"), 1e-5);
        var expected = NormalizedProjection(normed, d, wb.GetHost("visual_projection.weight"), p);
        using var pixels = r.Input("clip", "pixel_values");
        using (var e = clip.ImagePatchEmbeddings(pixels))
            VisionAssert.MinCosine("clip patch vectors", e, (expected, [VisionCases.Batch, n, p]));

        var text = r.Expected("clip", "text_last_hidden_state");
        var tokens = NormalizedProjection(Array.ConvertAll(text.Values, v => (double)v), VisionCases.TextDim, wb.GetHost("text_projection.weight"), p);
        using var ids = r.Input("clip", "input_ids");
        using (var e = clip.TextTokenEmbeddings(ids))
            VisionAssert.MinCosine("clip token vectors", e, (tokens, [text.Shape[0], text.Shape[1], p]));
    }

    [SkippableFact]
    public void Siglip_patch_and_token_vectors_are_the_normed_states_and_the_text_head()
    {
        Skip.If(VisionReference.Unavailable is not null, VisionReference.Unavailable);
        using var siglip = Siglip.Load(r.Cpu, r.Dir("siglip"));
        using var wb = WeightBuilder.Open(r.Cpu, Path.Combine(r.Dir("siglip"), "model.safetensors"));
        var vision = r.Expected("siglip", "vision_last_hidden_state");
        var patches = Normalize(Array.ConvertAll(vision.Values, v => (double)v), VisionCases.VisionDim);
        using var pixels = r.Input("siglip", "pixel_values");
        using (var e = siglip.ImagePatchEmbeddings(pixels)) VisionAssert.MinCosine("siglip patch vectors", e, (patches, vision.Shape));

        var text = r.Expected("siglip", "text_last_hidden_state");
        var w = wb.GetHost("text_model.head.weight");
        var b = wb.GetHost("text_model.head.bias");
        int dt = VisionCases.TextDim, p = VisionCases.VisionDim, rows = text.Values.Length / dt;
        var projected = new double[rows * p];
        for (int i = 0; i < rows; i++)
            for (int o = 0; o < p; o++)
            {
                double s = b[o];
                for (int k = 0; k < dt; k++) s += (double)text.Values[i * dt + k] * w[o * dt + k];
                projected[i * p + o] = s;
            }
        using var ids = r.Input("siglip", "input_ids");
        using (var e = siglip.TextTokenEmbeddings(ids))
            VisionAssert.MinCosine("siglip token vectors", e, (Normalize(projected, p), [text.Shape[0], text.Shape[1], p]));
    }

    private static double[] LayerNorm(float[] x, int d, float[] g, float[] b, double eps)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / d; r++)
        {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) mean += x[r * d + i];
            mean /= d;
            for (int i = 0; i < d; i++) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
            var /= d;
            for (int i = 0; i < d; i++) y[r * d + i] = (x[r * d + i] - mean) / Math.Sqrt(var + eps) * g[i] + b[i];
        }
        return y;
    }

    // x [rows, d] times W^T (W [p, d], no bias), each row L2-normalised.
    private static float[] NormalizedProjection(double[] x, int d, float[] w, int p)
    {
        int rows = x.Length / d;
        var y = new double[rows * p];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < p; o++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += x[r * d + k] * w[o * d + k];
                y[r * p + o] = s;
            }
        return Normalize(y, p);
    }

    private static float[] Normalize(double[] x, int d)
    {
        var y = new float[x.Length];
        for (int r = 0; r < x.Length / d; r++)
        {
            double n = 0;
            for (int i = 0; i < d; i++) n += x[r * d + i] * x[r * d + i];
            n = Math.Sqrt(n);
            for (int i = 0; i < d; i++) y[r * d + i] = (float)(x[r * d + i] / n);
        }
        return y;
    }
}
