using Tessera.Imaging;

namespace Tessera.Models.Diffusion.Vae;

/// <summary>Images to and from the [B, 3, H, W] f32 tensors autoencoders take, with the value range they expect
/// (TAESD [0, 1], AutoencoderKL [-1, 1]).</summary>
public static class ImageTensors
{
    /// <summary>[1, 3, H, W]: pixel p (0-255) becomes lo + (hi - lo)·p/255.</summary>
    public static Tensor ToTensor(IBackend backend, Image image, float lo = 0f, float hi = 1f)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(image);
        var rgb = image.AsRgb();
        int w = rgb.Width, h = rgb.Height, plane = w * h;
        var data = new float[3 * plane];
        float scale = (hi - lo) / 255f;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                data[c * plane + i] = lo + scale * rgb.Pixels[i * 3 + c];
        return Tensor.FromArray(backend, data, 1, 3, h, w);
    }

    /// <summary>Image <paramref name="index"/> of [B, 3, H, W], values mapped from [lo, hi] to 0-255, clamped and rounded.</summary>
    public static Image ToImage(Tensor images, int index = 0, float lo = 0f, float hi = 1f)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Rank != 4 || images.Dim(1) != 3)
            throw new TesseraException($"an image tensor must be [B, 3, H, W], got {images.Shape}");
        if (index < 0 || index >= images.Dim(0)) throw new TesseraException($"image {index} of a batch of {images.Dim(0)}");
        int h = images.Dim(2), w = images.Dim(3), plane = w * h;
        using var one = images.Narrow(0, index, 1);
        float[] v = one.ToFloatArray();
        var px = new byte[3 * plane];
        float scale = 255f / (hi - lo);
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                px[i * 3 + c] = (byte)Math.Clamp(MathF.Round((v[c * plane + i] - lo) * scale), 0, 255);
        return new Image(px, w, h);
    }
}
