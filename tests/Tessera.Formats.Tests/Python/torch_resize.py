"""Reference for Tessera's float resize: PyTorch's own F.interpolate (Debian's python3-torch).
argv: in.raw (float32 [C, H, W]) C H W OH OW mode(bilinear|bicubic) antialias(0|1) out.raw"""
import sys
import numpy as np
import torch
import torch.nn.functional as F

path, c, h, w, oh, ow, mode, aa, out = sys.argv[1], *map(int, sys.argv[2:7]), sys.argv[7], sys.argv[8] == "1", sys.argv[9]
x = torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(1, c, h, w))
y = F.interpolate(x, size=(oh, ow), mode=mode, align_corners=False, antialias=aa)
y.numpy().astype(np.float32).tofile(out)
