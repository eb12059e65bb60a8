namespace Tessera.Imaging;

/// <summary>Cropping as the vision processors do it.</summary>
public static class ImageCrop
{
    /// <summary>The rectangle [x, x + width) x [y, y + height), which must lie inside the image.</summary>
    public static Image Crop(Image image, int x, int y, int width, int height)
    {
        image.Validate();
        if (width <= 0 || height <= 0 || x < 0 || y < 0 || x > image.Width - width || y > image.Height - height)
            throw new TesseraException($"crop {width}x{height} at ({x}, {y}) does not lie inside a {image.Width}x{image.Height} image");
        int c = image.Channels;
        var o = new byte[width * height * c];
        for (int r = 0; r < height; r++)
            Array.Copy(image.Pixels, ((y + r) * image.Width + x) * c, o, r * width * c, width * c);
        return image with { Pixels = o, Width = width, Height = height };
    }

    /// <summary>Hugging Face's <c>center_crop</c>: top = (H - h) // 2 and left = (W - w) // 2 (floor division); an image
    /// smaller than the crop is first centred on a zero canvas (padding ceil((h - H) / 2) above, ceil((w - W) / 2) left),
    /// as transformers' image_transforms.center_crop does.</summary>
    public static Image CenterCrop(Image image, int width, int height)
    {
        image.Validate();
        if (width <= 0 || height <= 0) throw new TesseraException($"center crop to {width}x{height}: the size must be positive");
        if (width <= image.Width && height <= image.Height)
            return Crop(image, FloorDiv(image.Width - width, 2), FloorDiv(image.Height - height, 2), width, height);
        int nw = Math.Max(width, image.Width), nh = Math.Max(height, image.Height);
        int padTop = (nh - image.Height + 1) / 2, padLeft = (nw - image.Width + 1) / 2;
        int c = image.Channels;
        var canvas = new byte[nw * nh * c];
        for (int r = 0; r < image.Height; r++)
            Array.Copy(image.Pixels, r * image.Width * c, canvas, ((r + padTop) * nw + padLeft) * c, image.Width * c);
        int top = FloorDiv(image.Height - height, 2) + padTop, left = FloorDiv(image.Width - width, 2) + padLeft;
        return Crop(image with { Pixels = canvas, Width = nw, Height = nh }, Math.Max(0, left), Math.Max(0, top), width, height);
    }

    private static int FloorDiv(int a, int b) => (int)Math.Floor((double)a / b);
}
