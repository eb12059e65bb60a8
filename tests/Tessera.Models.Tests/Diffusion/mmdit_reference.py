"""PyTorch reference for the MMDiT (tests/Tessera.Models.Tests/Diffusion/MmditTorchTests.cs).

Usage: mmdit_reference.py IN.safetensors OUT.safetensors, as nn_reference.py. The network is written out from the SD3
paper (Esser et al. 2024, fig. 2) as diffusers' SD3Transformer2DModel defines it: PatchEmbed with the
pos_embed_max_size sin-cos table cropped to the centre, CombinedTimestepTextProjEmbeddings (256 frequencies, cos
first, shift 0; pooled text through linear-SiLU-linear), context_embedder, JointTransformerBlock (AdaLayerNormZero
on both streams, AdaLayerNormContinuous (scale, shift) on the last block's text stream, JointAttnProcessor2_0 with
the optional per-head RMSNorm of q and k, tanh-GELU feed-forwards), norm_out, proj_out, unpatchify; in float64."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Nn"))
import nn_reference as base  # noqa: E402
from nn_reference import nn, torch  # noqa: E402
from dit_reference import sincos_2d, FeedForward  # noqa: E402

F = torch.nn.functional


def timestep_features(t, dim=256, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
    args = t.double()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class PatchEmbed(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p, self.max = c["width"], c["patch"], c["maxSize"]
        self.p = p
        self.proj = nn.Conv2d(c["inChannels"], d, p, stride=p)
        table = sincos_2d(d, self.max, self.max, c["sampleSize"] // p)[None]
        self.register_buffer("pos_embed", table, persistent=c["storedPositions"])

    def forward(self, x):
        h, w = x.shape[2] // self.p, x.shape[3] // self.p
        top, left = (self.max - h) // 2, (self.max - w) // 2
        pos = self.pos_embed.reshape(1, self.max, self.max, -1)[:, top:top + h, left:left + w, :].reshape(1, h * w, -1)
        return self.proj(x).flatten(2).transpose(1, 2) + pos


class Mlp2(nn.Module):  # TimestepEmbedding / PixArtAlphaTextProjection: linear_1, SiLU, linear_2
    def __init__(self, i, d):
        super().__init__()
        self.linear_1, self.linear_2 = nn.Linear(i, d), nn.Linear(d, d)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class TimeTextEmbed(nn.Module):
    def __init__(self, d, pooled):
        super().__init__()
        self.timestep_embedder, self.text_embedder = Mlp2(256, d), Mlp2(pooled, d)

    def forward(self, t, pooled):
        return self.timestep_embedder(timestep_features(t)) + self.text_embedder(pooled)


class AdaZero(nn.Module):
    def __init__(self, d, chunks):
        super().__init__()
        self.linear = nn.Linear(d, chunks * d)

    def forward(self, temb):
        return self.linear(F.silu(temb)).chunk(self.linear.out_features // self.linear.in_features, dim=1)


def layer_norm(x):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


class JointAttention(nn.Module):
    def __init__(self, d, heads, pre_only, qk_norm):
        super().__init__()
        self.heads = heads
        for n in ("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj"):
            setattr(self, n, nn.Linear(d, d))
        self.to_out = nn.ModuleList([nn.Linear(d, d), nn.Dropout(0.0)])
        if not pre_only:
            self.to_add_out = nn.Linear(d, d)
        self.pre_only, self.qk_norm = pre_only, qk_norm
        if qk_norm:
            hd = d // heads
            self.norm_q, self.norm_k, self.norm_added_q, self.norm_added_k = (RMSNorm(hd) for _ in range(4))

    def split(self, x):
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x, c):
        q, k, v = self.split(self.to_q(x)), self.split(self.to_k(x)), self.split(self.to_v(x))
        cq, ck, cv = self.split(self.add_q_proj(c)), self.split(self.add_k_proj(c)), self.split(self.add_v_proj(c))
        if self.qk_norm:
            q, k, cq, ck = self.norm_q(q), self.norm_k(k), self.norm_added_q(cq), self.norm_added_k(ck)
        q, k, v = torch.cat([q, cq], 2), torch.cat([k, ck], 2), torch.cat([v, cv], 2)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        o = (w @ v).transpose(1, 2).reshape(x.shape[0], -1, x.shape[2])
        xo, co = o[:, :x.shape[1]], o[:, x.shape[1]:]
        return self.to_out[0](xo), (None if self.pre_only else self.to_add_out(co))


class JointBlock(nn.Module):
    def __init__(self, d, heads, pre_only, qk_norm):
        super().__init__()
        self.pre_only = pre_only
        self.norm1 = AdaZero(d, 6)
        self.norm1_context = AdaZero(d, 2 if pre_only else 6)
        self.attn = JointAttention(d, heads, pre_only, qk_norm)
        self.ff = FeedForward(d)
        if not pre_only:
            self.ff_context = FeedForward(d)

    def forward(self, x, c, temb):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.norm1(temb)
        nx = layer_norm(x) * (1 + scale_msa[:, None]) + shift_msa[:, None]
        if self.pre_only:
            scale, shift = self.norm1_context(temb)  # AdaLayerNormContinuous: scale first
            nc = layer_norm(c) * (1 + scale[:, None]) + shift[:, None]
        else:
            c_shift_msa, c_scale_msa, c_gate_msa, c_shift_mlp, c_scale_mlp, c_gate_mlp = self.norm1_context(temb)
            nc = layer_norm(c) * (1 + c_scale_msa[:, None]) + c_shift_msa[:, None]
        a, ca = self.attn(nx, nc)
        x = x + gate_msa[:, None] * a
        x = x + gate_mlp[:, None] * self.ff(layer_norm(x) * (1 + scale_mlp[:, None]) + shift_mlp[:, None])
        if self.pre_only:
            return x, None
        c = c + c_gate_msa[:, None] * ca
        c = c + c_gate_mlp[:, None] * self.ff_context(layer_norm(c) * (1 + c_scale_mlp[:, None]) + c_shift_mlp[:, None])
        return x, c


class MMDiT(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.p, self.cout = c["width"], c["patch"], c["outChannels"]
        self.pos_embed = PatchEmbed(c)
        self.time_text_embed = TimeTextEmbed(d, c["pooled"])
        self.context_embedder = nn.Linear(c["joint"], d)
        n = c["layers"]
        self.transformer_blocks = nn.ModuleList([JointBlock(d, c["heads"], i == n - 1, c["qkNorm"]) for i in range(n)])
        self.norm_out = AdaZero(d, 2)
        self.proj_out = nn.Linear(d, self.p * self.p * self.cout)

    def forward(self, x, t, ehs, pooled):
        p = self.p
        h, w = x.shape[2] // p, x.shape[3] // p
        x = self.pos_embed(x)
        temb = self.time_text_embed(t, pooled)
        c = self.context_embedder(ehs)
        for blk in self.transformer_blocks:
            x, c = blk(x, c, temb)
        scale, shift = self.norm_out(temb)
        x = self.proj_out(layer_norm(x) * (1 + scale[:, None]) + shift[:, None])
        x = x.reshape(-1, h, w, p, p, self.cout)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(-1, self.cout, h * p, w * p)


def case_mmdit(c):
    model = base.load(MMDiT(c.spec), c, "model")
    return {"out": model(c.t("x"), c.t("t"), c.t("ehs"), c.t("pooled"))}


base.case_mmdit = case_mmdit

if __name__ == "__main__":
    base.main()
