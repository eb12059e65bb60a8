"""PyTorch reference for diffusers' AutoencoderKL (tests/Tessera.Models.Tests/Diffusion/AutoencoderKlTorchTests.cs).

Usage: autoencoder_kl_reference.py IN.safetensors OUT.safetensors, as nn_reference.py (whose reader, writer and case
loop it uses). Written from the architecture of diffusers' autoencoder_kl.py, vae.py (Encoder, Decoder), resnet.py
(ResnetBlock2D, Downsample2D, Upsample2D), unet_2d_blocks.py (DownEncoderBlock2D, UpDecoderBlock2D, UNetMidBlock2D) and
attention_processor.py (single-head Attention with a GroupNorm in front and a residual), with the state-dict names
diffusers saves; tiled_decode, _tiled_encode, blend_v and blend_h follow AutoencoderKL's. Run in float64."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Nn"))
import nn_reference as base  # noqa: E402
from nn_reference import F, load, nn, torch  # noqa: E402

EPS = 1e-6


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=EPS)
        self.to_q, self.to_k, self.to_v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c)])

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).view(b, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        p = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1)
        o = self.to_out[0](p @ v)
        return x + o.transpose(1, 2).reshape(b, c, h, w)


class Mid(nn.Module):
    def __init__(self, c, groups, attention):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, groups), ResnetBlock2D(c, c, groups)])
        self.attentions = nn.ModuleList([Attention(c, groups)]) if attention else None

    def forward(self, x):
        x = self.resnets[0](x)
        if self.attentions is not None:
            x = self.attentions[0](x)
        return self.resnets[1](x)


class Downsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0))


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    def __init__(self, cin, cout, layers, groups, sampler):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        if sampler == "down":
            self.downsamplers = nn.ModuleList([Downsample2D(cout)])
        elif sampler == "up":
            self.upsamplers = nn.ModuleList([Upsample2D(cout)])
        self.sampler = sampler

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self.sampler == "down":
            x = self.downsamplers[0](x)
        elif self.sampler == "up":
            x = self.upsamplers[0](x)
        return x


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        widths, groups = cfg["block_out_channels"], cfg["norm_num_groups"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], widths[0], 3, padding=1)
        blocks, width = [], widths[0]
        for i, out in enumerate(widths):
            blocks.append(Level(width, out, cfg["layers_per_block"], groups, None if i == len(widths) - 1 else "down"))
            width = out
        self.down_blocks = nn.ModuleList(blocks)
        self.mid_block = Mid(width, groups, cfg["mid_block_add_attention"])
        self.conv_norm_out = nn.GroupNorm(groups, width, eps=EPS)
        self.conv_out = nn.Conv2d(width, 2 * cfg["latent_channels"], 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for b in self.down_blocks:
            x = b(x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        widths, groups = list(reversed(cfg["block_out_channels"])), cfg["norm_num_groups"]
        self.conv_in = nn.Conv2d(cfg["latent_channels"], widths[0], 3, padding=1)
        self.mid_block = Mid(widths[0], groups, cfg["mid_block_add_attention"])
        blocks, width = [], widths[0]
        for i, out in enumerate(widths):
            blocks.append(Level(width, out, cfg["layers_per_block"] + 1, groups, None if i == len(widths) - 1 else "up"))
            width = out
        self.up_blocks = nn.ModuleList(blocks)
        self.conv_norm_out = nn.GroupNorm(groups, width, eps=EPS)
        self.conv_out = nn.Conv2d(width, cfg["out_channels"], 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for b in self.up_blocks:
            x = b(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        c = cfg["latent_channels"]
        self.encoder, self.decoder = Encoder(cfg), Decoder(cfg)
        self.quant_conv = nn.Conv2d(2 * c, 2 * c, 1) if cfg["use_quant_conv"] else None
        self.post_quant_conv = nn.Conv2d(c, c, 1) if cfg["use_post_quant_conv"] else None

    def encode(self, x):
        moments = self.encoder(x)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        mean, logvar = torch.chunk(moments, 2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)

    def decode(self, z):
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)

    # AutoencoderKL.blend_v / blend_h / tiled_decode (tile_latent_min_size, tile_sample_min_size, overlap 0.25).
    @staticmethod
    def blend_v(a, b, blend_extent):
        blend_extent = min(a.shape[2], b.shape[2], blend_extent)
        for y in range(blend_extent):
            b[:, :, y, :] = a[:, :, -blend_extent + y, :] * (1 - y / blend_extent) + b[:, :, y, :] * (y / blend_extent)
        return b

    @staticmethod
    def blend_h(a, b, blend_extent):
        blend_extent = min(a.shape[3], b.shape[3], blend_extent)
        for x in range(blend_extent):
            b[:, :, :, x] = a[:, :, :, -blend_extent + x] * (1 - x / blend_extent) + b[:, :, :, x] * (x / blend_extent)
        return b

    def tiled_decode(self, z, tile_latent_min_size, tile_overlap_factor=0.25):
        factor = 2 ** (len(self.cfg["block_out_channels"]) - 1)
        tile_sample_min_size = tile_latent_min_size * factor
        overlap_size = int(tile_latent_min_size * (1 - tile_overlap_factor))
        blend_extent = int(tile_sample_min_size * tile_overlap_factor)
        row_limit = tile_sample_min_size - blend_extent
        rows = []
        for i in range(0, z.shape[2], overlap_size):
            row = []
            for j in range(0, z.shape[3], overlap_size):
                row.append(self.decode(z[:, :, i:i + tile_latent_min_size, j:j + tile_latent_min_size]))
            rows.append(row)
        result_rows = []
        for i, row in enumerate(rows):
            result_row = []
            for j, tile in enumerate(row):
                if i > 0:
                    tile = self.blend_v(rows[i - 1][j], tile, blend_extent)
                if j > 0:
                    tile = self.blend_h(row[j - 1], tile, blend_extent)
                result_row.append(tile[:, :, :row_limit, :row_limit])
            result_rows.append(torch.cat(result_row, dim=3))
        return torch.cat(result_rows, dim=2)


    def tiled_encode(self, x, tile_latent_min_size, tile_overlap_factor=0.25):
        """AutoencoderKL._tiled_encode: image tiles of tile_sample_min_size pixels every int(size x (1 - overlap)),
        each through the encoder and quant_conv, the moments blended over int(latent tile x overlap) and cropped to
        the rest; then DiagonalGaussianDistribution's split and clamp."""
        factor = 2 ** (len(self.cfg["block_out_channels"]) - 1)
        tile_sample_min_size = tile_latent_min_size * factor
        overlap_size = int(tile_sample_min_size * (1 - tile_overlap_factor))
        blend_extent = int(tile_latent_min_size * tile_overlap_factor)
        row_limit = tile_latent_min_size - blend_extent
        rows = []
        for i in range(0, x.shape[2], overlap_size):
            row = []
            for j in range(0, x.shape[3], overlap_size):
                tile = self.encoder(x[:, :, i:i + tile_sample_min_size, j:j + tile_sample_min_size])
                if self.quant_conv is not None:
                    tile = self.quant_conv(tile)
                row.append(tile)
            rows.append(row)
        result_rows = []
        for i, row in enumerate(rows):
            result_row = []
            for j, tile in enumerate(row):
                if i > 0:
                    tile = self.blend_v(rows[i - 1][j], tile, blend_extent)
                if j > 0:
                    tile = self.blend_h(row[j - 1], tile, blend_extent)
                result_row.append(tile[:, :, :row_limit, :row_limit])
            result_rows.append(torch.cat(result_row, dim=3))
        moments = torch.cat(result_rows, dim=2)
        mean, logvar = torch.chunk(moments, 2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)


def case_autoencoder_kl(c):
    model = load(AutoencoderKL(c["config"]), c, "model")
    out = {}
    if c.has("x"):
        out["mean"], out["logvar"] = model.encode(c.t("x"))
        if c.get("encode_tile"):
            out["tiled_mean"], out["tiled_logvar"] = model.tiled_encode(c.t("x"), c["encode_tile"], c["encode_overlap"])
    if c.has("z"):
        out["dec"] = model.decode(c.t("z"))
        if c.get("tile"):
            out["tiled"] = model.tiled_decode(c.t("z"), c["tile"])
    return out


base.case_autoencoder_kl = case_autoencoder_kl

if __name__ == "__main__":
    base.main()
