namespace Tessera.Models.Diffusion.Vae;

/// <summary>Tiled decoding and encoding as diffusers' AutoencoderKL.tiled_decode and tiled_encode do them. Decoding: latent
/// tiles of T positions a side start every T - V positions (V = round(T x overlap)); each is decoded on its own; in image
/// space a tile's first V·f rows (columns) are blended linearly with the last V·f rows (columns) of the tile above (to the
/// left), weight y / (V·f) for the new tile, and each tile then contributes its first (T - V)·f rows and columns.
/// Encoding is the mirror image: image tiles of T·f pixels a side start every (T - V)·f pixels, are encoded (to the
/// moments, after quant_conv) on their own, blended over V latent rows and columns, and each contributes its first T - V.
/// Blending runs in place and in diffusers' order (vertical, then horizontal, row by row), so the result is the one
/// diffusers gives (its int() truncations equal these roundings whenever T x overlap is whole, as for its 0.25 and the
/// published sample sizes; otherwise diffusers' own stride and crop disagree and its output is mis-sized). The network
/// sees only its tile: GroupNorm statistics and the mid block's attention are per tile, which is why tiles differ from
/// the whole image and why the overlap is blended.</summary>
internal static class KlTiling
{
    private sealed record Tile(float[] Data, int Channels, int Height, int Width);

    /// <summary>Latent [B, C, h, w] -> image [B, c, h·f, w·f] by decoding tiles of <paramref name="tileLatent"/> positions.</summary>
    public static Tensor Decode(Tensor latent, int tileLatent, double overlap, int factor, Func<Tensor, Tensor> decode)
    {
        var (v, stride) = Split(tileLatent, overlap, "decoding");
        return Run(latent, tileLatent, stride, v * factor, stride * factor, latent.Dim(2) * factor, latent.Dim(3) * factor, decode);
    }

    /// <summary>Image [B, c, H, W] (multiples of f) -> moments [B, 2C, H/f, W/f] by encoding tiles of
    /// <paramref name="tileLatent"/> x f pixels.</summary>
    public static Tensor Encode(Tensor image, int tileLatent, double overlap, int factor, Func<Tensor, Tensor> encode)
    {
        var (v, stride) = Split(tileLatent, overlap, "encoding");
        return Run(image, tileLatent * factor, stride * factor, v, stride, image.Dim(2) / factor, image.Dim(3) / factor, encode);
    }

    // V and the stride T - V, in latent positions.
    private static (int V, int Stride) Split(int tileLatent, double overlap, string what)
    {
        if (tileLatent <= 0) throw new TesseraException($"tiled {what}: the tile must be at least one latent position, got {tileLatent}");
        if (overlap is < 0 or >= 1 || double.IsNaN(overlap)) throw new TesseraException($"tiled {what}: the overlap must be in [0, 1), got {overlap}");
        int v = (int)Math.Round(tileLatent * overlap), stride = tileLatent - v;
        if (stride <= 0) throw new TesseraException($"tiled {what}: an overlap of {overlap} leaves no stride in a tile of {tileLatent}");
        return (v, stride);
    }

    // Input tiles of tileIn a side every strideIn; outputs blended over blend rows/columns, each placed as its first limit.
    private static Tensor Run(Tensor input, int tileIn, int strideIn, int blend, int limit, int outH, int outW, Func<Tensor, Tensor> run)
    {
        int batch = input.Dim(0), h = input.Dim(2), w = input.Dim(3);
        var tiles = new List<Tile[]>();
        for (int y0 = 0; y0 < h; y0 += strideIn)
        {
            var row = new List<Tile>();
            for (int x0 = 0; x0 < w; x0 += strideIn)
            {
                using var rows = input.Narrow(2, y0, Math.Min(tileIn, h - y0));
                using var part = rows.Narrow(3, x0, Math.Min(tileIn, w - x0));
                using var contiguous = part.Contiguous();
                using var output = run(contiguous);
                row.Add(new Tile(output.ToFloatArray(), output.Dim(1), output.Dim(2), output.Dim(3)));
            }
            tiles.Add([.. row]);
        }

        int channels = tiles[0][0].Channels;
        var result = new float[(long)batch * channels * outH * outW];
        for (int i = 0; i < tiles.Count; i++)
            for (int j = 0; j < tiles[i].Length; j++)
            {
                var tile = tiles[i][j];
                if (i > 0) BlendRows(tiles[i - 1][j], tile, batch, blend);
                if (j > 0) BlendColumns(tiles[i][j - 1], tile, batch, blend);
                Place(tile, result, batch, i * limit, j * limit, Math.Min(limit, tile.Height), Math.Min(limit, tile.Width), outH, outW);
            }
        return Tensor.FromArray(input.Backend, result, batch, channels, outH, outW);
    }

    // b's first e rows = a's last e rows x (1 - y/e) + b's x (y/e) (diffusers' blend_v).
    private static void BlendRows(Tile a, Tile b, int batch, int extent)
    {
        int e = Math.Min(Math.Min(a.Height, b.Height), extent);
        for (int p = 0; p < batch * b.Channels; p++)
            for (int y = 0; y < e; y++)
            {
                float t = (float)y / e;
                var src = a.Data.AsSpan((p * a.Height + a.Height - e + y) * a.Width, a.Width);
                var dst = b.Data.AsSpan((p * b.Height + y) * b.Width, b.Width);
                for (int x = 0; x < dst.Length; x++) dst[x] = src[x] * (1 - t) + dst[x] * t;
            }
    }

    // b's first e columns blended with a's last e columns (diffusers' blend_h).
    private static void BlendColumns(Tile a, Tile b, int batch, int extent)
    {
        int e = Math.Min(Math.Min(a.Width, b.Width), extent);
        for (int p = 0; p < batch * b.Channels; p++)
            for (int y = 0; y < b.Height; y++)
            {
                var src = a.Data.AsSpan((p * a.Height + y) * a.Width + a.Width - e, e);
                var dst = b.Data.AsSpan((p * b.Height + y) * b.Width, e);
                for (int x = 0; x < e; x++)
                {
                    float t = (float)x / e;
                    dst[x] = src[x] * (1 - t) + dst[x] * t;
                }
            }
    }

    private static void Place(Tile tile, float[] result, int batch, int top, int left, int rows, int cols, int outH, int outW)
    {
        for (int p = 0; p < batch * tile.Channels; p++)
            for (int y = 0; y < rows; y++)
                tile.Data.AsSpan((p * tile.Height + y) * tile.Width, cols)
                    .CopyTo(result.AsSpan((int)(((long)p * outH + top + y) * outW + left), cols));
    }
}
