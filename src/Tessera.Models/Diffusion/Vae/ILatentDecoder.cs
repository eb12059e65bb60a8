namespace Tessera.Models.Diffusion.Vae;

/// <summary>What a diffusion pipeline needs of an autoencoder's decoder: latents in the diffusion model's own
/// latent space (for AutoencoderKL that is after the config's scaling and shift; TAESD works in that space directly)
/// to images [B, 3, H, W] nominally in [0, 1] (clamp before writing pixels).</summary>
public interface ILatentDecoder : IDisposable
{
    /// <summary>C of the latents [B, C, h, w] it takes.</summary>
    int LatentChannels { get; }

    /// <summary>The spatial factor between image and latent (8 for the SD family).</summary>
    int SpatialFactor { get; }

    /// <summary>Latent [B, C, h, w] in the diffusion model's space -> image [B, 3, h * factor, w * factor] in [0, 1].</summary>
    Tensor DecodeModelLatent(Tensor latent);
}
