"""PyTorch references for the diffusion models (tests/Tessera.Models.Tests/Diffusion).

Usage: diffusion_reference.py IN.safetensors OUT.safetensors, as nn_reference.py (whose reader, writer and case loop it
uses). The tiny autoencoder is written out from madebyollin/taesd's taesd.py at 5cccb12d (Block with FLUX.2's optional
GroupNorm pooling branch, Encoder, Decoder as nn.Sequential), run in float64."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Nn"))
import nn_reference as base  # noqa: E402
from nn_reference import load, nn, torch  # noqa: E402


def conv3(n_in, n_out, **kw):
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kw)


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    def __init__(self, n_in, n_out, mid=False):
        super().__init__()
        self.conv = nn.Sequential(conv3(n_in, n_out), nn.ReLU(), conv3(n_out, n_out), nn.ReLU(), conv3(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()
        self.pool = None
        if mid:
            self.pool = nn.Sequential(nn.Conv2d(n_in, 4 * n_in, 1, bias=False), nn.GroupNorm(4, 4 * n_in), nn.ReLU(),
                                      nn.Conv2d(4 * n_in, n_in, 1, bias=False))

    def forward(self, x):
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + self.skip(x))


def encoder(latent, mid):
    return nn.Sequential(
        conv3(3, 64), Block(64, 64),
        conv3(64, 64, stride=2, bias=False), Block(64, 64), Block(64, 64), Block(64, 64),
        conv3(64, 64, stride=2, bias=False), Block(64, 64), Block(64, 64), Block(64, 64),
        conv3(64, 64, stride=2, bias=False), Block(64, 64, mid), Block(64, 64, mid), Block(64, 64, mid),
        conv3(64, latent))


def decoder(latent, mid):
    return nn.Sequential(
        Clamp(), conv3(latent, 64), nn.ReLU(),
        Block(64, 64, mid), Block(64, 64, mid), Block(64, 64, mid), nn.Upsample(scale_factor=2), conv3(64, 64, bias=False),
        Block(64, 64), Block(64, 64), Block(64, 64), nn.Upsample(scale_factor=2), conv3(64, 64, bias=False),
        Block(64, 64), Block(64, 64), Block(64, 64), nn.Upsample(scale_factor=2), conv3(64, 64, bias=False),
        Block(64, 64), conv3(64, 3))


def case_taesd(c):
    make = encoder if c["half"] == "encoder" else decoder
    model = load(make(c["latent"], c["mid"]), c, "model")
    return {"out": model(c.t("x"))}


def case_taesd_files(c):
    """The published encoder and decoder files on an image: encode, then decode."""
    halves = []
    for make, key in ((encoder, "encoder"), (decoder, "decoder")):
        state = torch.load(c[key], map_location="cpu", weights_only=True)
        model = make(c["latent"], c["mid"]).double()
        model.load_state_dict({k: v.double() for k, v in state.items()}, strict=True)
        halves.append(model)
    return {"out": halves[1](halves[0](c.t("x")))}


base.case_taesd = case_taesd
base.case_taesd_files = case_taesd_files

if __name__ == "__main__":
    base.main()
