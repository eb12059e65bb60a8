"""PyTorch reference for 2-D rotary position embeddings of patch grids (RotaryGridTorchTests.cs).

Usage: rope2d_reference.py IN.safetensors OUT.safetensors, as nn_reference.py (whose reader, writer and case loop it
uses). Each layout is written out as its published vision tower computes it, in float64:
- qwen2vl: Qwen2-VL's VisionRotaryEmbedding(head_dim // 2) and rot_pos_emb (row and column ids in spatial-merge order,
  the table gathered at them and flattened), applied by apply_rotary_pos_emb_vision (cos/sin repeated twice, rotate_half)
  to q [1, seq, heads, head_dim].
- pixtral: PixtralRotaryEmbedding (freqs = theta^(-arange(0, dim, 2) / dim); rows on freqs[::2], columns on freqs[1::2],
  the [max_side * max_side, dim/2] table doubled), position ids from position_ids_in_meshgrid (row * max_width + col),
  applied by apply_rotary_pos_emb to q [1, heads, seq, head_dim]."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nn_reference as base  # noqa: E402
from nn_reference import torch  # noqa: E402


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def case_rope2d_qwen2vl(c):
    h, w, sms, theta = c["rows"], c["cols"], c["merge"], c["theta"]
    q = c.t("q")                                   # [1, heads, seq, head_dim] as Tessera takes it
    head_dim = q.shape[-1]
    dim = head_dim // 2
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    hpos = torch.arange(h).unsqueeze(1).expand(-1, w)
    hpos = hpos.reshape(h // sms, sms, w // sms, sms).permute(0, 2, 1, 3).flatten()
    wpos = torch.arange(w).unsqueeze(0).expand(h, -1)
    wpos = wpos.reshape(h // sms, sms, w // sms, sms).permute(0, 2, 1, 3).flatten()
    pos_ids = torch.stack([hpos, wpos], dim=-1)
    full = torch.outer(torch.arange(max(h, w), dtype=torch.float64), inv_freq)
    freqs = full[pos_ids].flatten(1)                # [seq, head_dim / 2]
    cos = freqs.cos().unsqueeze(1).repeat(1, 1, 2).unsqueeze(0)
    sin = freqs.sin().unsqueeze(1).repeat(1, 1, 2).unsqueeze(0)
    t = q.permute(0, 2, 1, 3)                       # [1, seq, heads, head_dim]
    out = t * cos + rotate_half(t) * sin
    return {"y": out.permute(0, 2, 1, 3), "rows": pos_ids[:, 0].double(), "cols": pos_ids[:, 1].double()}


def case_rope2d_pixtral(c):
    height, width, side, theta = c["rows"], c["cols"], c["max_side"], c["theta"]
    q = c.t("q")                                   # [1, heads, seq, head_dim]
    dim = q.shape[-1]
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    hh = torch.arange(side, dtype=torch.float64)
    ww = torch.arange(side, dtype=torch.float64)
    freqs_h = torch.outer(hh, freqs[::2])
    freqs_w = torch.outer(ww, freqs[1::2])
    inv_freq = torch.cat([freqs_h[:, None, :].repeat(1, side, 1), freqs_w[None, :, :].repeat(side, 1, 1)], dim=-1).reshape(-1, dim // 2)
    inv_freq = torch.cat((inv_freq, inv_freq), dim=-1)
    mesh = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    h_grid, v_grid = torch.stack(mesh, dim=-1).reshape(-1, 2).chunk(2, -1)
    ids = (h_grid * side + v_grid)[:, 0]
    emb = inv_freq[ids]
    cos, sin = emb.cos().unsqueeze(0), emb.sin().unsqueeze(0)
    return {"y": q * cos + rotate_half(q) * sin}


base.case_rope2d_qwen2vl = case_rope2d_qwen2vl
base.case_rope2d_pixtral = case_rope2d_pixtral

if __name__ == "__main__":
    base.main()
