namespace Tessera.Models.Vision;

/// <summary>A two-tower image-text model (CLIP, SigLIP): images and texts embedded into one space, compared by cosine.</summary>
public interface IImageTextModel : IDisposable
{
    /// <summary>L2-normalised image embeddings [B, P] of pixels [B, C, H, W] (transformers' <c>image_embeds</c>).</summary>
    Tensor ImageEmbeddings(Tensor pixels);

    /// <summary>L2-normalised text embeddings [B, P] of token ids [B, S] (i32; <c>text_embeds</c>).</summary>
    Tensor TextEmbeddings(Tensor ids);

    /// <summary>transformers' <c>logits_per_image</c> [Bi, Bt] from normalised embeddings: exp(logit_scale) times the
    /// cosine, plus logit_bias for SigLIP.</summary>
    Tensor LogitsPerImage(Tensor imageEmbeds, Tensor textEmbeds);
}
