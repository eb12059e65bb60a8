using Tessera.Models.Tests.Nn;
using Tessera.Models.Vision;

namespace Tessera.Models.Tests.Vision;

/// <summary>ViT, CLIP and SigLIP loaded from random checkpoints in the published layout, against vision_reference.py
/// (PyTorch, float64): logits within 1e-4, embeddings at cosine 0.99999 or better, hidden states of any layer, patch
/// features without the class token, positions interpolated to another resolution.</summary>
public sealed class VisionModelTests(VisionReference r) : IClassFixture<VisionReference>
{
    [SkippableFact]
    public void Vit_logits_hidden_states_and_interpolated_positions_match_pytorch()
    {
        Skip.If(VisionReference.Unavailable is not null, VisionReference.Unavailable);
        using var vit = Vit.Load(r.Cpu, r.Dir("vit"));
        using var pixels = r.Input("vit", "pixel_values");
        using var alt = r.Input("vit", "pixel_values_alt");
        using (var logits = vit.Logits(pixels)) VisionAssert.MaxAbs("vit logits", logits, r.Expected("vit", "logits"));
        using (var o = vit.Forward(pixels, hiddenStates: true))
        {
            NnAssert.Close("vit last_hidden_state", o.LastHiddenState, r.Expected("vit", "last_hidden_state"));
            Assert.Equal(vit.Encoder.Layers.Count + 1, o.HiddenStates.Count);
            NnAssert.Close("vit hidden_states[-2] (all states)", o.HiddenStates[^2], r.Expected("vit", "hidden_state"));
        }
        using (var h = vit.HiddenState(pixels, -2)) NnAssert.Close("vit hidden_states[-2]", h, r.Expected("vit", "hidden_state"));
        using (var h = vit.HiddenState(pixels, -2, classToken: false))
            NnAssert.Close("vit hidden_states[-2] without CLS", h, VisionAssert.Rows(r.Expected("vit", "hidden_state"), 1, VisionCases.Grid * VisionCases.Grid));
        using (var logits = vit.Logits(alt)) VisionAssert.MaxAbs("vit logits at 42x36", logits, r.Expected("vit", "alt_logits"));
        using (var o = vit.Forward(alt)) NnAssert.Close("vit last_hidden_state at 42x36", o.LastHiddenState, r.Expected("vit", "alt_last_hidden_state"));
        Assert.Equal("class 3", vit.Labels[3]);
        Assert.Equal(7, vit.Labels.Count);
    }

    [SkippableFact]
    public void Deit_with_teacher_averages_its_two_heads_and_matches_pytorch()
    {
        Skip.If(VisionReference.Unavailable is not null, VisionReference.Unavailable);
        using var deit = Vit.Load(r.Cpu, r.Dir("deit"));
        Assert.NotNull(deit.DistillationClassifier);
        Assert.Equal(2, deit.PrefixTokens);
        Assert.Equal("deit class 4", deit.Labels[4]);
        using var pixels = r.Input("deit", "pixel_values");
        using var alt = r.Input("deit", "pixel_values_alt");
        using (var logits = deit.Logits(pixels)) VisionAssert.MaxAbs("deit logits", logits, r.Expected("deit", "logits"));
        using (var o = deit.Forward(pixels, hiddenStates: true))
        {
            NnAssert.Close("deit last_hidden_state", o.LastHiddenState, r.Expected("deit", "last_hidden_state"));
            NnAssert.Close("deit hidden_states[-2] (all states)", o.HiddenStates[^2], r.Expected("deit", "hidden_state"));
        }
        using (var h = deit.HiddenState(pixels, -2, classToken: false))
            NnAssert.Close("deit hidden_states[-2] without the two tokens", h, VisionAssert.Rows(r.Expected("deit", "hidden_state"), 2, VisionCases.Grid * VisionCases.Grid));
        using (var logits = deit.Logits(alt)) VisionAssert.MaxAbs("deit logits at 42x36", logits, r.Expected("deit", "alt_logits"));
        using (var e = EmbeddingModel.Open(r.Cpu, r.Dir("deit"))) Assert.Equal(2, e.Vit!.PrefixTokens);   // model_type deit
    }

    [SkippableTheory]
    [InlineData("clip", -2)]
    [InlineData("clip_eos", 1)]
    public void Clip_embeddings_logits_and_hidden_states_match_pytorch(string name, int layer)
    {
        Skip.If(VisionReference.Unavailable is not null, VisionReference.Unavailable);
        using var clip = Clip.Load(r.Cpu, r.Dir(name));
        using var pixels = r.Input(name, "pixel_values");
        using var alt = r.Input(name, "pixel_values_alt");
        using var ids = r.Input(name, "input_ids");
        using var img = clip.ImageEmbeddings(pixels);
        using var txt = clip.TextEmbeddings(ids);
        VisionAssert.MinCosine($"{name} image_embeds", img, r.Expected(name, "image_embeds"));
        VisionAssert.MinCosine($"{name} text_embeds", txt, r.Expected(name, "text_embeds"));
        using (var logits = clip.LogitsPerImage(img, txt)) VisionAssert.MaxAbs($"{name} logits_per_image", logits, r.Expected(name, "logits_per_image"));
        using (var o = clip.Vision.Forward(pixels, hiddenStates: true))
        {
            NnAssert.Close($"{name} vision last_hidden_state", o.LastHiddenState, r.Expected(name, "vision_last_hidden_state"));
            NnAssert.Close($"{name} vision hidden_states[{layer}] (all states)", o.HiddenStates[layer < 0 ? o.HiddenStates.Count + layer : layer], r.Expected(name, "vision_hidden_state"));
        }
        using (var h = clip.Vision.HiddenState(pixels, layer)) NnAssert.Close($"{name} vision hidden_states[{layer}]", h, r.Expected(name, "vision_hidden_state"));
        using (var h = clip.Vision.HiddenState(pixels, -1, classToken: false))
            NnAssert.Close($"{name} patch features", h, VisionAssert.Rows(r.Expected(name, "vision_last_hidden_state"), 1, VisionCases.Grid * VisionCases.Grid));
        using (var o = clip.Text!.Forward(ids)) NnAssert.Close($"{name} text last_hidden_state", o.LastHiddenState, r.Expected(name, "text_last_hidden_state"));
        using (var e = clip.ImageEmbeddings(alt)) VisionAssert.MinCosine($"{name} image_embeds at 42x36", e, r.Expected(name, "alt_image_embeds"));
    }

    [SkippableFact]
    public void Siglip_embeddings_logits_with_bias_and_hidden_states_match_pytorch()
    {
        Skip.If(VisionReference.Unavailable is not null, VisionReference.Unavailable);
        using var siglip = Siglip.Load(r.Cpu, r.Dir("siglip"));
        using var pixels = r.Input("siglip", "pixel_values");
        using var alt = r.Input("siglip", "pixel_values_alt");
        using var ids = r.Input("siglip", "input_ids");
        Assert.Equal(-3f, siglip.LogitBias);
        using var img = siglip.ImageEmbeddings(pixels);
        using var txt = siglip.TextEmbeddings(ids);
        VisionAssert.MinCosine("siglip image_embeds", img, r.Expected("siglip", "image_embeds"));
        VisionAssert.MinCosine("siglip text_embeds", txt, r.Expected("siglip", "text_embeds"));
        using (var logits = siglip.LogitsPerImage(img, txt)) VisionAssert.MaxAbs("siglip logits_per_image", logits, r.Expected("siglip", "logits_per_image"));
        using (var o = siglip.Vision.Forward(pixels)) NnAssert.Close("siglip vision last_hidden_state", o.LastHiddenState, r.Expected("siglip", "vision_last_hidden_state"));
        using (var h = siglip.Vision.HiddenState(pixels, 1)) NnAssert.Close("siglip vision hidden_states[1]", h, r.Expected("siglip", "vision_hidden_state"));
        using (var o = siglip.Text!.Forward(ids)) NnAssert.Close("siglip text last_hidden_state", o.LastHiddenState, r.Expected("siglip", "text_last_hidden_state"));
        using (var e = siglip.ImageEmbeddings(alt)) VisionAssert.MinCosine("siglip image_embeds at 42x36", e, r.Expected("siglip", "alt_image_embeds"));
    }
}
