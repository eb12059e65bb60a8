"""PyTorch references for Tessera's vision and text towers (tests/Tessera.Models.Tests/Vision).

Usage: vision_reference.py CASE_DIR...

Each CASE_DIR holds a checkpoint in the published Hugging Face layout (config.json, model.safetensors), the inputs
(inputs.safetensors: pixel_values [B, C, H, W], pixel_values_alt [1, C, H2, W2] at another resolution, input_ids
[Bt, S]) and case.json ({"kind": "vit" | "clip" | "siglip", "layer": hidden-state index}). The outputs are written to
CASE_DIR/outputs.safetensors as f32.

The modules below are written from the papers and from transformers' modeling_vit.py, modeling_clip.py and
modeling_siglip.py (module names as there, so that load_state_dict(strict=True) checks every published name), and run
in float64. torch 1.13 has no scaled_dot_product_attention: attention is written out, except SigLIP's pooling head,
which is PyTorch's own nn.MultiheadAttention as in transformers."""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Nn"))
from nn_reference import read_safetensors, write_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)

ACT = {
    "gelu": F.gelu,
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
}


def interpolate_positions(table, rows, cols, extra):
    """transformers' interpolate_pos_encoding: the patch rows of a [1, extra + n*n, D] table resized bicubically
    (align_corners=False, size=(rows, cols)) to the new grid; the first `extra` rows kept in front."""
    front, patch = table[:, :extra], table[:, extra:]
    n = int(math.sqrt(patch.shape[1]))
    dim = table.shape[-1]
    if n * n == patch.shape[1] and rows == n and cols == n:
        return table
    grid = patch.reshape(1, n, n, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(rows, cols), mode="bicubic", align_corners=False)
    return torch.cat([front, grid.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)], dim=1)


# ---- CLIP / SigLIP encoder (CLIPEncoderLayer, SiglipEncoderLayer: the same module names) ----

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x, mask=None):
        b, s, d = x.shape
        q = self.q_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2) * self.head_dim ** -0.5
        k = self.k_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        w = q @ k.transpose(-1, -2)
        if mask is not None:
            w = w + mask
        o = torch.softmax(w, dim=-1) @ v
        return self.out_proj(o.transpose(1, 2).reshape(b, s, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden, act):
        super().__init__()
        self.act = ACT[act]
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.layer_norm1 = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.self_attn = Attention(d, c["num_attention_heads"])
        self.layer_norm2 = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.mlp = Mlp(d, c["intermediate_size"], c["hidden_act"])

    def forward(self, x, mask=None):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(c) for _ in range(c["num_hidden_layers"]))

    def forward(self, x, mask=None):
        states = [x]
        for layer in self.layers:
            x = layer(x, mask)
            states.append(x)
        return states


class ClipVisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p = c["hidden_size"], c["patch_size"]
        self.patch = p
        self.class_embedding = nn.Parameter(torch.zeros(d))
        self.patch_embedding = nn.Conv2d(c["num_channels"], d, p, stride=p, bias=False)
        self.position_embedding = nn.Embedding((c["image_size"] // p) ** 2 + 1, d)

    def forward(self, pixels):
        b, _, h, w = pixels.shape
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(b, 1, -1), patches], dim=1)
        return x + interpolate_positions(self.position_embedding.weight[None], h // self.patch, w // self.patch, 1)


class ClipVisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.embeddings = ClipVisionEmbeddings(c)
        self.pre_layrnorm = nn.LayerNorm(d, eps=c["layer_norm_eps"])   # sic: the published name
        self.encoder = Encoder(c)
        self.post_layernorm = nn.LayerNorm(d, eps=c["layer_norm_eps"])

    def forward(self, pixels):
        states = self.encoder(self.pre_layrnorm(self.embeddings(pixels)))
        last = states[-1]
        return last, self.post_layernorm(last[:, 0]), states


class ClipTextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.eos = c["eos_token_id"]
        self.embeddings = nn.Module()
        self.embeddings.token_embedding = nn.Embedding(c["vocab_size"], d)
        self.embeddings.position_embedding = nn.Embedding(c["max_position_embeddings"], d)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(d, eps=c["layer_norm_eps"])

    def forward(self, ids):
        s = ids.shape[1]
        x = self.embeddings.token_embedding(ids) + self.embeddings.position_embedding(torch.arange(s))
        causal = torch.full((s, s), float("-inf")).triu(1)
        last = self.final_layer_norm(self.encoder(x, causal)[-1])
        # transformers: the legacy configs (eos_token_id 2) take the highest id (49407 is the highest); the others the
        # first position holding eos_token_id.
        at = ids.argmax(-1) if self.eos == 2 else (ids == self.eos).int().argmax(-1)
        return last, last[torch.arange(ids.shape[0]), at]


class ClipModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        t, v = c["text_config"], c["vision_config"]
        self.text_model = ClipTextTransformer(t)
        self.vision_model = ClipVisionTransformer(v)
        self.visual_projection = nn.Linear(v["hidden_size"], c["projection_dim"], bias=False)
        self.text_projection = nn.Linear(t["hidden_size"], c["projection_dim"], bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))

    def image_embeds(self, pixels):
        return F.normalize(self.visual_projection(self.vision_model(pixels)[1]), dim=-1)

    def text_embeds(self, ids):
        return F.normalize(self.text_projection(self.text_model(ids)[1]), dim=-1)

    def logits_per_image(self, img, txt):
        return self.logit_scale.exp() * img @ txt.t()


# ---- SigLIP ----

class SiglipVisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p = c["hidden_size"], c["patch_size"]
        self.patch = p
        self.patch_embedding = nn.Conv2d(c["num_channels"], d, p, stride=p)
        self.position_embedding = nn.Embedding((c["image_size"] // p) ** 2, d)

    def forward(self, pixels):
        _, _, h, w = pixels.shape
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        return x + interpolate_positions(self.position_embedding.weight[None], h // self.patch, w // self.patch, 0)


class SiglipPoolingHead(nn.Module):
    """SiglipMultiheadAttentionPoolingHead: a learned probe attends over the patches (nn.MultiheadAttention), then
    LayerNorm and an MLP with a residual."""
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.probe = nn.Parameter(torch.zeros(1, 1, d))
        self.attention = nn.MultiheadAttention(d, c["num_attention_heads"], batch_first=True)
        self.layernorm = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.mlp = Mlp(d, c["intermediate_size"], c["hidden_act"])

    def forward(self, x):
        probe = self.probe.repeat(x.shape[0], 1, 1)
        h = self.attention(probe, x, x, need_weights=False)[0]
        return (h + self.mlp(self.layernorm(h)))[:, 0]


class SiglipVisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = SiglipVisionEmbeddings(c)
        self.encoder = Encoder(c)
        self.post_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.head = SiglipPoolingHead(c)

    def forward(self, pixels):
        states = self.encoder(self.embeddings(pixels))
        last = self.post_layernorm(states[-1])
        return last, self.head(last), states


class SiglipTextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.embeddings = nn.Module()
        self.embeddings.token_embedding = nn.Embedding(c["vocab_size"], d)
        self.embeddings.position_embedding = nn.Embedding(c["max_position_embeddings"], d)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.head = nn.Linear(d, c.get("projection_size") or d)

    def forward(self, ids):
        s = ids.shape[1]
        x = self.embeddings.token_embedding(ids) + self.embeddings.position_embedding(torch.arange(s))
        last = self.final_layer_norm(self.encoder(x)[-1])     # no causal mask; the last position pools
        return last, self.head(last[:, -1])


class SiglipModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.text_model = SiglipTextTransformer(c["text_config"])
        self.vision_model = SiglipVisionTransformer(c["vision_config"])
        self.logit_scale = nn.Parameter(torch.zeros(1))
        self.logit_bias = nn.Parameter(torch.zeros(1))

    def image_embeds(self, pixels):
        return F.normalize(self.vision_model(pixels)[1], dim=-1)

    def text_embeds(self, ids):
        return F.normalize(self.text_model(ids)[1], dim=-1)

    def logits_per_image(self, img, txt):
        return img @ txt.t() * self.logit_scale.exp() + self.logit_bias


# ---- ViT (modeling_vit.py's module names) ----

class ViTEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p = c["hidden_size"], c["patch_size"]
        self.patch = p
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.position_embeddings = nn.Parameter(torch.zeros(1, (c["image_size"] // p) ** 2 + 1, d))
        self.patch_embeddings = nn.Module()
        self.patch_embeddings.projection = nn.Conv2d(c["num_channels"], d, p, stride=p)

    def forward(self, pixels):
        b, _, h, w = pixels.shape
        x = self.patch_embeddings.projection(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        return x + interpolate_positions(self.position_embeddings, h // self.patch, w // self.patch, 1)


class ViTSelfAttention(nn.Module):
    def __init__(self, d, heads, bias):
        super().__init__()
        self.heads, self.size = heads, d // heads
        self.query, self.key, self.value = (nn.Linear(d, d, bias=bias) for _ in range(3))

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.size).permute(0, 2, 1, 3)

    def forward(self, x):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.size), dim=-1)
        o = (p @ v).permute(0, 2, 1, 3)
        return o.reshape(x.shape)


class ViTLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c.get("layer_norm_eps", 1e-12)
        self.act = ACT[c.get("hidden_act", "gelu")]
        self.attention = nn.Module()
        self.attention.attention = ViTSelfAttention(d, c["num_attention_heads"], c.get("qkv_bias", True))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(d, d)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(d, c["intermediate_size"])
        self.output = nn.Module()
        self.output.dense = nn.Linear(c["intermediate_size"], d)
        self.layernorm_before = nn.LayerNorm(d, eps=eps)
        self.layernorm_after = nn.LayerNorm(d, eps=eps)

    def forward(self, x):
        x = self.attention.output.dense(self.attention.attention(self.layernorm_before(x))) + x
        return self.output.dense(self.act(self.intermediate.dense(self.layernorm_after(x)))) + x


class ViTForImageClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vit = nn.Module()
        self.vit.embeddings = ViTEmbeddings(c)
        self.vit.encoder = nn.Module()
        self.vit.encoder.layer = nn.ModuleList(ViTLayer(c) for _ in range(c["num_hidden_layers"]))
        self.vit.layernorm = nn.LayerNorm(c["hidden_size"], eps=c.get("layer_norm_eps", 1e-12))
        self.classifier = nn.Linear(c["hidden_size"], len(c["id2label"]))

    def forward(self, pixels):
        x = self.vit.embeddings(pixels)
        states = [x]
        for layer in self.vit.encoder.layer:
            x = layer(x)
            states.append(x)
        last = self.vit.layernorm(x)
        return last, self.classifier(last[:, 0]), states


# ---- DeiT (modeling_deit.py's module names) ----

class DeiTEmbeddings(nn.Module):
    """[CLS, DIST, patches] + positions; for another grid the patch rows of the table are resized as ViT's and the two
    token rows kept in front (DeiTEmbeddings.interpolate_pos_encoding)."""

    def __init__(self, c):
        super().__init__()
        d, p = c["hidden_size"], c["patch_size"]
        self.patch = p
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, d))
        self.position_embeddings = nn.Parameter(torch.zeros(1, (c["image_size"] // p) ** 2 + 2, d))
        self.patch_embeddings = nn.Module()
        self.patch_embeddings.projection = nn.Conv2d(c["num_channels"], d, p, stride=p)

    def forward(self, pixels):
        b, _, h, w = pixels.shape
        x = self.patch_embeddings.projection(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(b, -1, -1), self.distillation_token.expand(b, -1, -1), x], dim=1)
        return x + interpolate_positions(self.position_embeddings, h // self.patch, w // self.patch, 2)


class DeiTForImageClassificationWithTeacher(nn.Module):
    """logits = (cls_classifier(h[:, 0]) + distillation_classifier(h[:, 1])) / 2 on the final layer-normed states."""

    def __init__(self, c):
        super().__init__()
        self.deit = nn.Module()
        self.deit.embeddings = DeiTEmbeddings(c)
        self.deit.encoder = nn.Module()
        self.deit.encoder.layer = nn.ModuleList(ViTLayer(c) for _ in range(c["num_hidden_layers"]))
        self.deit.layernorm = nn.LayerNorm(c["hidden_size"], eps=c.get("layer_norm_eps", 1e-12))
        self.cls_classifier = nn.Linear(c["hidden_size"], len(c["id2label"]))
        self.distillation_classifier = nn.Linear(c["hidden_size"], len(c["id2label"]))

    def forward(self, pixels):
        x = self.deit.embeddings(pixels)
        states = [x]
        for layer in self.deit.encoder.layer:
            x = layer(x)
            states.append(x)
        last = self.deit.layernorm(x)
        logits = (self.cls_classifier(last[:, 0]) + self.distillation_classifier(last[:, 1])) / 2
        return last, logits, states


# ---- cases ----

def run(case_dir):
    with open(os.path.join(case_dir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(case_dir, "case.json")) as f:
        case = json.load(f)
    weights, _ = read_safetensors(os.path.join(case_dir, "model.safetensors"))
    inputs, _ = read_safetensors(os.path.join(case_dir, "inputs.safetensors"))
    kind, layer = case["kind"], case["layer"]
    model = {"vit": ViTForImageClassification, "deit": DeiTForImageClassificationWithTeacher, "clip": ClipModel,
             "siglip": SiglipModel}[kind](config)
    model.load_state_dict({k: v.double() for k, v in weights.items()}, strict=True)
    pixels, alt = inputs["pixel_values"].double(), inputs["pixel_values_alt"].double()
    out = {}
    with torch.no_grad():
        if kind in ("vit", "deit"):
            last, logits, states = model(pixels)
            out.update(last_hidden_state=last, logits=logits, hidden_state=states[layer],
                       alt_logits=model(alt)[1], alt_last_hidden_state=model(alt)[0])
        else:
            ids = inputs["input_ids"].long()
            vlast, _, states = model.vision_model(pixels)
            img, txt = model.image_embeds(pixels), model.text_embeds(ids)
            out.update(image_embeds=img, text_embeds=txt, logits_per_image=model.logits_per_image(img, txt),
                       vision_last_hidden_state=vlast, vision_hidden_state=states[layer],
                       text_last_hidden_state=model.text_model(ids)[0], alt_image_embeds=model.image_embeds(alt))
    write_safetensors(os.path.join(case_dir, "outputs.safetensors"), out)


if __name__ == "__main__":
    for d in sys.argv[1:]:
        run(d)
