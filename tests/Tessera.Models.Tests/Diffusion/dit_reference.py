"""PyTorch reference for the DiT (tests/Tessera.Models.Tests/Diffusion/DitTorchTests.cs).

Usage: dit_reference.py IN.safetensors OUT.safetensors, as nn_reference.py (whose reader, writer and case loop it uses).
The network is written out from Peebles & Xie's DiT as diffusers' DiTTransformer2DModel defines it (PatchEmbed with
2-D sin-cos positions, BasicTransformerBlock with norm_type "ada_norm_zero" and its CombinedTimestepLabelEmbeddings,
the final adaLN on the first block's conditioning, unpatchify), under diffusers' parameter names, run in float64."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Nn"))
import nn_reference as base  # noqa: E402
from nn_reference import load, nn, torch  # noqa: E402

F = torch.nn.functional


def sincos_1d(dim, pos):
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
    out = pos.reshape(-1)[:, None] * omega[None, :]
    return torch.cat([torch.sin(out), torch.cos(out)], dim=1)


def sincos_2d(dim, rows, cols, base_size):
    gh = torch.arange(rows, dtype=torch.float64) / (rows / base_size)
    gw = torch.arange(cols, dtype=torch.float64) / (cols / base_size)
    w, h = torch.meshgrid(gw, gh, indexing="xy")  # both [rows, cols]: w holds column coordinates
    return torch.cat([sincos_1d(dim // 2, w), sincos_1d(dim // 2, h)], dim=1)


def timestep_features(t, dim=256, shift=1.0, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / (half - shift))
    args = t.double()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)  # flip_sin_to_cos


class TimestepEmbedder(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.linear_1, self.linear_2 = nn.Linear(256, d), nn.Linear(d, d)

    def forward(self, t):
        return self.linear_2(F.silu(self.linear_1(timestep_features(t))))


class LabelEmbedder(nn.Module):
    def __init__(self, rows, d):
        super().__init__()
        self.embedding_table = nn.Embedding(rows, d)

    def forward(self, y):
        return self.embedding_table(y)


class CombinedEmbedding(nn.Module):
    def __init__(self, rows, d):
        super().__init__()
        self.timestep_embedder, self.class_embedder = TimestepEmbedder(d), LabelEmbedder(rows, d)

    def forward(self, t, y):
        return self.timestep_embedder(t) + self.class_embedder(y)


class AdaLnZero(nn.Module):
    def __init__(self, rows, d):
        super().__init__()
        self.emb = CombinedEmbedding(rows, d)
        self.linear = nn.Linear(d, 6 * d)
        self.norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)


class Attention(nn.Module):
    def __init__(self, d, heads, head_dim):
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.to_q, self.to_k, self.to_v = nn.Linear(d, inner), nn.Linear(d, inner), nn.Linear(d, inner)
        self.to_out = nn.ModuleList([nn.Linear(inner, d), nn.Dropout(0.0)])

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = (p(x).reshape(b, n, self.heads, -1).transpose(1, 2) for p in (self.to_q, self.to_k, self.to_v))
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        return self.to_out[0]((w @ v).transpose(1, 2).reshape(b, n, -1))


class GeluProj(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.proj = nn.Linear(i, o)

    def forward(self, x):
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = nn.ModuleList([GeluProj(d, 4 * d), nn.Dropout(0.0), nn.Linear(4 * d, d)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class Block(nn.Module):
    def __init__(self, rows, heads, head_dim, eps):
        super().__init__()
        d = heads * head_dim
        self.norm1 = AdaLnZero(rows, d)
        self.attn1 = Attention(d, heads, head_dim)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=eps)
        self.ff = FeedForward(d)

    def forward(self, x, t, y):
        c = self.norm1.emb(t, y)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.norm1.linear(F.silu(c)).chunk(6, dim=1)
        h = self.norm1.norm(x) * (1 + scale_msa[:, None]) + shift_msa[:, None]
        x = x + gate_msa[:, None] * self.attn1(h)
        h = self.norm2(x) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
        return x + gate_mlp[:, None] * self.ff(h)


class PatchEmbed(nn.Module):
    def __init__(self, cin, d, p):
        super().__init__()
        self.proj = nn.Conv2d(cin, d, p, stride=p)


class DiT(nn.Module):
    def __init__(self, c):
        super().__init__()
        heads, hd, self.p = c["heads"], c["headDim"], c["patch"]
        d = heads * hd
        self.cout, self.base = c["outChannels"], c["sampleSize"] // self.p
        self.pos_embed = PatchEmbed(c["inChannels"], d, self.p)
        self.transformer_blocks = nn.ModuleList([Block(c["labelRows"], heads, hd, c["eps"]) for _ in range(c["layers"])])
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.proj_out_1 = nn.Linear(d, 2 * d)
        self.proj_out_2 = nn.Linear(d, self.p * self.p * self.cout)

    def forward(self, x, t, y):
        p = self.p
        h, w = x.shape[2] // p, x.shape[3] // p
        x = self.pos_embed.proj(x).flatten(2).transpose(1, 2) + sincos_2d(self.proj_out_1.in_features, h, w, self.base)
        for blk in self.transformer_blocks:
            x = blk(x, t, y)
        cond = self.transformer_blocks[0].norm1.emb(t, y)
        shift, scale = self.proj_out_1(F.silu(cond)).chunk(2, dim=1)
        x = self.proj_out_2(self.norm_out(x) * (1 + scale[:, None]) + shift[:, None])
        x = x.reshape(-1, h, w, p, p, self.cout)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(-1, self.cout, h * p, w * p)


def case_dit(c):
    model = load(DiT(c), c, "model")
    return {"out": model(c.t("x"), c.t("t"), c.t("y").long())}


base.case_dit = case_dit

if __name__ == "__main__":
    base.main()
