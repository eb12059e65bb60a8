"""PyTorch references for Tessera's shared layers (tests/Tessera.Models.Tests/Nn).

Usage: nn_reference.py IN.safetensors OUT.safetensors

IN holds every case's weights and inputs, named "<case>.<published name>", and in its metadata one JSON object per
case ({"kind": ..., parameters}). Each case is built from PyTorch's own modules (nn.Linear, nn.LayerNorm,
nn.GroupNorm, nn.MultiheadAttention) where they exist, or written out from the published model code where they do
not (RMSNorm, rotary embedding, grouped-query attention: torch 1.13 has no F.scaled_dot_product_attention), run in
float64, and its outputs are written to OUT as f32 named "<case>.<output>".
Reads and writes safetensors with numpy alone (the safetensors package is not installed here)."""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[base + a:base + b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


def write_safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Case:
    def __init__(self, name, spec, tensors):
        self.name, self.spec, self.tensors = name, spec, tensors

    def __getitem__(self, key):
        return self.spec[key]

    def get(self, key, default=None):
        return self.spec.get(key, default)

    def t(self, name):
        """A tensor of this case as float64 (ids stay integers)."""
        t = self.tensors[self.name + "." + name]
        return t if not t.is_floating_point() else t.double()

    def has(self, name):
        return (self.name + "." + name) in self.tensors

    def state(self, prefix):
        """The case's tensors under prefix, as a state dict for load_state_dict."""
        p = self.name + "." + (prefix + "." if prefix else "")
        return {k[len(p):]: v.double() for k, v in self.tensors.items() if k.startswith(p)}


def act(name, x):
    return {"None": lambda v: v, "Gelu": F.gelu, "GeluTanh": lambda v: F.gelu(v, approximate="tanh"),
            "QuickGelu": lambda v: v * torch.sigmoid(1.702 * v), "Silu": F.silu, "Relu": F.relu}[name](x)


def load(module, case, prefix):
    module.double().load_state_dict(case.state(prefix), strict=True)
    return module


def linear(case, prefix, i, o, bias=True):
    return load(nn.Linear(i, o, bias=bias), case, prefix)


# ---- rotary embedding, grouped-query attention (Hugging Face LLaMA's apply_rotary_pos_emb and repeat_kv) ----

def rope(x, positions, rot, theta, interleaved):
    """x [B, H, S, D]; positions [S] or [B, S]; rotates the first rot channels."""
    inv = 1.0 / (theta ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot))
    pos = positions.double()
    freqs = pos[..., None] * inv                                  # [S, R/2] or [B, S, R/2]
    if freqs.dim() == 3:
        freqs = freqs[:, None]                                    # [B, 1, S, R/2]
    xr, rest = x[..., :rot], x[..., rot:]
    if interleaved:
        c, s = freqs.cos(), freqs.sin()
        x1, x2 = xr[..., 0::2], xr[..., 1::2]
        out = torch.stack([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1).flatten(-2)
    else:
        emb = torch.cat([freqs, freqs], dim=-1)
        h = rot // 2
        rotated = torch.cat([-xr[..., h:], xr[..., :h]], dim=-1)
        out = xr * emb.cos() + rotated * emb.sin()
    return torch.cat([out, rest], dim=-1)


def attention(case, prefix, x, context=None, positions=None, mask=None):
    """Separate q/k/v/o projections, grouped-query heads, rotary, causal (bottom-right) and additive mask."""
    d, h, hkv, hd = case["dim"], case["heads"], case["kvHeads"], case["headDim"]
    names = case.get("names", {"Q": "q_proj", "K": "k_proj", "V": "v_proj", "Out": "out_proj"})
    cd = case.get("contextDim", d)
    bias = case.get("qkvBias", True)
    src = x if context is None else context
    q = linear(case, f"{prefix}{names['Q']}", d, h * hd, bias)(x)
    k = linear(case, f"{prefix}{names['K']}", cd, hkv * hd, bias)(src)
    v = linear(case, f"{prefix}{names['V']}", cd, hkv * hd, bias)(src)
    b, s, sk = x.shape[0], x.shape[1], src.shape[1]
    q = q.view(b, s, h, hd).transpose(1, 2)
    k = k.view(b, sk, hkv, hd).transpose(1, 2)
    v = v.view(b, sk, hkv, hd).transpose(1, 2)
    if case.get("rotaryDim") and context is None:
        q = rope(q, positions, case["rotaryDim"], case.get("theta", 10000.0), case.get("interleaved", False))
        k = rope(k, positions, case["rotaryDim"], case.get("theta", 10000.0), case.get("interleaved", False))
    k = k.repeat_interleave(h // hkv, dim=1)
    v = v.repeat_interleave(h // hkv, dim=1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
    if case.get("causal"):
        keep = torch.ones(s, sk, dtype=torch.bool).tril(sk - s)
        scores = scores.masked_fill(~keep, float("-inf"))
    if mask is not None:
        scores = scores + mask
    o = torch.softmax(scores, dim=-1) @ v
    o = o.transpose(1, 2).reshape(b, s, h * hd)
    return linear(case, f"{prefix}{names['Out']}", h * hd, d, case.get("outBias", True))(o)


# ---- cases ----

def case_linear(c):
    lin = linear(c, "lin", c["in"], c["out"], c["bias"])
    y = act(c.get("act", "None"), lin(c.t("x")))
    if c.has("residual"):
        y = y + c.t("residual")
    return {"y": y}


def case_layernorm(c):
    ln = load(nn.LayerNorm(c["dim"], eps=c["eps"], elementwise_affine=c["affine"]), c, "norm")
    return {"y": ln(c.t("x"))}


def case_rmsnorm(c):
    x, w = c.t("x"), c.t("norm.weight")
    if c["addOne"]:
        w = 1 + w
    return {"y": x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + c["eps"]) * w}


def case_groupnorm(c):
    gn = load(nn.GroupNorm(c["groups"], c["channels"], eps=c["eps"], affine=c["affine"]), c, "norm")
    return {"y": gn(c.t("x"))}


def case_mlp(c):
    x = c.t("x")
    h = act(c["act"], linear(c, "mlp.fc1", c["dim"], c["hidden"])(x))
    return {"y": linear(c, "mlp.fc2", c["hidden"], c["dim"])(h)}


def case_gated(c):
    x = c.t("x")
    g = linear(c, "mlp.gate_proj", c["dim"], c["hidden"], False)(x)
    u = linear(c, "mlp.up_proj", c["dim"], c["hidden"], False)(x)
    return {"y": linear(c, "mlp.down_proj", c["hidden"], c["dim"], False)(act(c["act"], g) * u)}


def case_torch_mha(c):
    """PyTorch's own nn.MultiheadAttention (packed in_proj), batch_first, additive float mask."""
    m = load(nn.MultiheadAttention(c["dim"], c["heads"], bias=True, batch_first=True), c, "attn")
    x = c.t("x")
    y, _ = m(x, x, x, attn_mask=c.t("mask") if c.has("mask") else None, need_weights=False)
    return {"y": y}


def case_attention(c):
    x = c.t("x")
    context = c.t("context") if c.has("context") else None
    positions = c.t("positions") if c.has("positions") else torch.arange(x.shape[1])
    mask = c.t("mask") if c.has("mask") else None
    return {"y": attention(c, "attn.", x, context, positions, mask)}


def case_block(c):
    x = c.t("x")
    d = c["dim"]
    n = c["blockNames"]  # {"Norm1", "Attention", "Norm2", "Mlp"}
    if c["norm"] == "LayerNorm":
        n1 = load(nn.LayerNorm(d, eps=c["eps"]), c, "block." + n["Norm1"])
        n2 = load(nn.LayerNorm(d, eps=c["eps"]), c, "block." + n["Norm2"])
    else:
        def rms(p):
            w = c.t(p + ".weight")
            return lambda v: v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + c["eps"]) * w
        n1, n2 = rms("block." + n["Norm1"]), rms("block." + n["Norm2"])
    positions = c.t("positions") if c.has("positions") else torch.arange(x.shape[1])
    h = x + attention(c, f"block.{n['Attention']}.", n1(x), None, positions, c.t("mask") if c.has("mask") else None)
    z = n2(h)
    m = "block." + n["Mlp"]
    if c["ffn"] == "Mlp":
        f = linear(c, m + ".fc2", c["hidden"], d)(act(c["act"], linear(c, m + ".fc1", d, c["hidden"])(z)))
    else:
        g = linear(c, m + ".gate_proj", d, c["hidden"], False)(z)
        u = linear(c, m + ".up_proj", d, c["hidden"], False)(z)
        f = linear(c, m + ".down_proj", c["hidden"], d, False)(act(c["act"], g) * u)
    return {"y": h + f}


def case_patch(c):
    """Conv with kernel = stride = patch, class token, positions resized as Hugging Face's interpolate_pos_encoding."""
    d, p, gr, gc, cls = c["dim"], c["patch"], c["gridRows"], c["gridCols"], c["classToken"]
    px = c.t("pixels")
    b = c.t("pe.patch_embedding.bias") if c.has("pe.patch_embedding.bias") else None
    y = F.conv2d(px, c.t("pe.patch_embedding.weight"), b, stride=p).flatten(2).transpose(1, 2)
    if cls:
        y = torch.cat([c.t("pe.class_embedding").view(1, 1, d).expand(px.shape[0], -1, -1), y], dim=1)
    pos = c.t("pe.position_embedding.weight")
    rows, cols = px.shape[2] // p, px.shape[3] // p
    if (rows, cols) != (gr, gc):
        first = 1 if cls else 0
        grid = pos[first:].reshape(1, gr, gc, d).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(rows, cols), mode="bicubic", align_corners=False)
        pos = torch.cat([pos[:first], grid.permute(0, 2, 3, 1).reshape(-1, d)], dim=0)
    return {"y": y + pos}


def case_timestep(c):
    """diffusers' get_timestep_embedding, then linear_1 -> SiLU -> linear_2 (TimestepEmbedding)."""
    t, dim = c.t("t"), c["dim"]
    half = dim // 2
    exponent = -math.log(c["maxPeriod"]) * torch.arange(half, dtype=torch.float64) / (half - c["shift"])
    emb = t[:, None] * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if c["flip"]:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    h = F.silu(linear(c, "te.linear_1", dim, c["hidden"])(emb))
    return {"emb": emb, "y": linear(c, "te.linear_2", c["hidden"], c["hidden"])(h)}


def case_adaln(c):
    """DiT: adaLN_modulation = Sequential(SiLU, Linear(cond, 6D)); modulate(x, shift, scale) = x * (1 + scale) + shift."""
    x, cond, d, cd = c.t("x"), c.t("c"), c["dim"], c["condDim"]
    norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6).double()

    def modulate(v, shift, scale):
        return v * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)

    shift_msa, scale_msa, gate_msa, _, _, _ = linear(c, "block.adaLN_modulation.1", cd, 6 * d)(F.silu(cond)).chunk(6, dim=1)
    y = modulate(norm(x), shift_msa, scale_msa)
    shift, scale = linear(c, "final.adaLN_modulation.1", cd, 2 * d)(F.silu(cond)).chunk(2, dim=1)
    return {"mod": y, "gated": x + gate_msa.unsqueeze(1) * y, "final": modulate(norm(x), shift, scale)}


def main():
    tensors, meta = read_safetensors(sys.argv[1])
    out = {}
    with torch.no_grad():
        for name, text in meta.items():
            spec = json.loads(text)
            results = globals()["case_" + spec["kind"]](Case(name, spec, tensors))
            for k, v in results.items():
                out[name + "." + k] = v
    write_safetensors(sys.argv[2], out)


if __name__ == "__main__":
    main()
