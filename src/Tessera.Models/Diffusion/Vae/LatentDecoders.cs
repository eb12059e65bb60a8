namespace Tessera.Models.Diffusion.Vae;

/// <summary>Opens the decoder of any autoencoder this runtime reads, from what the path holds.</summary>
public static class LatentDecoders
{
    /// <summary>A diffusers AutoencoderKL (a pipeline folder with vae/, the vae/ folder itself, or its weight file with
    /// config.json beside it; only the decoder half is loaded, tiling automatic) or a TAESD-family decoder file (.pth or
    /// .safetensors).</summary>
    public static ILatentDecoder Open(IBackend backend, string path)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path) || AutoencoderKl.IsAutoencoderKl(path))
            return AutoencoderKl.Open(backend, path, new AutoencoderKlOptions { LoadEncoder = false });
        var vae = TinyAutoencoder.Open(backend, path);
        if (vae.IsEncoder)
        {
            vae.Dispose();
            throw new TesseraException($"{path} is a TAESD encoder: decoding needs the decoder file");
        }
        return vae;
    }
}
