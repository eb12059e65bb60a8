"""PyTorch reference for the DiT in facebookresearch/DiT's own layout (DitOriginalTorchTests.cs).

Usage: dit_original_reference.py IN.safetensors OUT.safetensors, as nn_reference.py. The network is written out from
Peebles & Xie's models.py (x_embedder, t_embedder.mlp, y_embedder.embedding_table, pos_embed, DiTBlock with timm's
Attention (packed qkv) and Mlp, adaLN_modulation chunks shift/scale/gate msa then mlp, FinalLayer, unpatchify), in
float64. Besides the outputs it writes the model as the original checkpoints are written: torch.save of the float32
state dict (spec "pt"), without pos_embed when the case has none, and as a training checkpoint {"model", "ema"}
(spec "training") whose "model" entry is perturbed, so that only its "ema" weights give the reference output."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Nn"))
import nn_reference as base  # noqa: E402
from nn_reference import nn, torch  # noqa: E402
from dit_reference import sincos_1d  # noqa: E402

F = torch.nn.functional


def timestep_embedding(t, dim=256, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
    args = t.double()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def sincos_indices(dim, rows, cols):
    gh, gw = torch.arange(rows, dtype=torch.float64), torch.arange(cols, dtype=torch.float64)
    w, h = torch.meshgrid(gw, gh, indexing="xy")
    return torch.cat([sincos_1d(dim // 2, w), sincos_1d(dim // 2, h)], dim=1)


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class PatchEmbed(nn.Module):
    def __init__(self, cin, d, p):
        super().__init__()
        self.proj = nn.Conv2d(cin, d, p, stride=p)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))

    def forward(self, t):
        return self.mlp(timestep_embedding(t))


class LabelEmbedder(nn.Module):
    def __init__(self, rows, d):
        super().__init__()
        self.embedding_table = nn.Embedding(rows, d)


class Attention(nn.Module):  # timm's, qkv packed as [3, heads, head_dim] rows
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        w = torch.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5, dim=-1)
        return self.proj((w @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class DiTBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(d, heads)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(d)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    def __init__(self, d, p, cout):
        super().__init__()
        self.norm_final = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(d, p * p * cout)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class DiT(nn.Module):
    def __init__(self, c, stored_pos):
        super().__init__()
        d, self.p, self.cout = c["width"], c["patch"], c["outChannels"]
        self.x_embedder = PatchEmbed(c["inChannels"], d, self.p)
        self.t_embedder = TimestepEmbedder(d)
        self.y_embedder = LabelEmbedder(c["labelRows"], d)
        if stored_pos:
            grid = c["sampleSize"] // self.p
            self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid, d), requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(d, c["heads"]) for _ in range(c["layers"])])
        self.final_layer = FinalLayer(d, self.p, self.cout)

    def forward(self, x, t, y):
        p = self.p
        h, w = x.shape[2] // p, x.shape[3] // p
        pos = self.pos_embed if hasattr(self, "pos_embed") else sincos_indices(self.x_embedder.proj.out_channels, h, w)
        x = self.x_embedder(x) + pos
        c = self.t_embedder(t) + self.y_embedder.embedding_table(y)
        for block in self.blocks:
            x = block(x, c)
        x = self.final_layer(x, c)
        x = x.reshape(-1, h, w, p, p, self.cout)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(-1, self.cout, h * p, w * p)


def case_dit_original(c):
    stored = c.has("model.pos_embed")
    model = base.load(DiT(c.spec, stored), c, "model")
    state = {k: v.float() for k, v in model.state_dict().items()}
    torch.save(state, c["pt"])
    if c.get("training"):
        perturbed = {k: v + 1.0 for k, v in state.items()}
        torch.save({"model": perturbed, "ema": state, "args": {"model": "DiT-test"}}, c["training"])
    return {"out": model(c.t("x"), c.t("t"), c.t("y").long())}


base.case_dit_original = case_dit_original

if __name__ == "__main__":
    base.main()
