namespace Tessera.Models.Vision;

/// <summary>An image-text model that also gives one vector per image patch and per text token in its shared space, for
/// ColPali-style late-interaction retrieval (<see cref="ImageIndexKind.MultiVector"/>, scored by MaxSim). The patch
/// vectors take the path the pooled vector takes where the model has one (CLIP: post_layernorm then
/// visual_projection; SigLIP: the normed last hidden state, since its pooling head mixes all patches into one), and
/// the token vectors likewise (CLIP: text_projection of the normed states; SigLIP: the text head). Contrastive training
/// aligned only the pooled vectors: a ColPali-trained checkpoint is what makes MaxSim rank well.</summary>
public interface IMultiVectorModel
{
    /// <summary>L2-normalised patch vectors [B, N, P] of pixels [B, C, H, W] (no class token).</summary>
    Tensor ImagePatchEmbeddings(Tensor pixels);

    /// <summary>L2-normalised token vectors [B, S, P] of token ids [B, S] (i32), one per position.</summary>
    Tensor TextTokenEmbeddings(Tensor ids);
}
