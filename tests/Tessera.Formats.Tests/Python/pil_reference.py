"""Reference for Tessera's image resizing and vision preprocessing: Pillow itself, and the steps of Hugging Face's
CLIPImageProcessor / ViTImageProcessor written out from transformers' image_transforms (resize through PIL,
center_crop with floor-division offsets and zero padding, rescale in float64 cast to float32, normalize in float32).
transformers is not installed here; Pillow and numpy are (Debian's python3-pil, python3-numpy).

Input (argv[1]): a text file, one case a line:
  resize <w> <h> <channels> <out_w> <out_h> <filter> <raw file>
  process <w> <h> <mode exact|shortest> <W> <H> <short> <filter> <crop_w or 0> <crop_h or 0> <mean r,g,b> <std r,g,b> <raw file>
The raw file holds h*w*channels bytes (RGB or L). Output: for each case, a file <raw file>.out with the resized bytes
or the float32 pixel values (channels first)."""
import sys
import numpy as np
from PIL import Image

MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def hf_center_crop(a, ch, cw):
    h, w = a.shape[:2]
    top, left = (h - ch) // 2, (w - cw) // 2
    if top >= 0 and left >= 0 and top + ch <= h and left + cw <= w:
        return a[top:top + ch, left:left + cw]
    nh, nw = max(ch, h), max(cw, w)
    canvas = np.zeros((nh, nw) + a.shape[2:], dtype=a.dtype)
    tp, lp = int(np.ceil((nh - h) / 2)), int(np.ceil((nw - w) / 2))
    canvas[tp:tp + h, lp:lp + w] = a
    top, left = top + tp, left + lp
    return canvas[max(0, top):min(nh, top + ch), max(0, left):min(nw, left + cw)]


def main():
    for line in open(sys.argv[1]):
        f = line.split()
        if not f:
            continue
        if f[0] == "resize":
            w, h, c, ow, oh, flt, path = int(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5]), int(f[6]), f[7]
            im = Image.frombytes(MODES[c], (w, h), open(path, "rb").read())
            open(path + ".out", "wb").write(im.resize((ow, oh), resample=flt).tobytes())
        else:
            w, h, mode, W, H, short, flt, cw, chh = int(f[1]), int(f[2]), f[3], int(f[4]), int(f[5]), int(f[6]), int(f[7]), int(f[8]), int(f[9])
            mean = np.array([float(v) for v in f[10].split(",")], dtype=np.float32)
            std = np.array([float(v) for v in f[11].split(",")], dtype=np.float32)
            path = f[12]
            im = Image.frombytes("RGB", (w, h), open(path, "rb").read())
            if mode == "exact":
                size = (W, H)
            else:  # get_resize_output_image_size(default_to_square=False)
                s, l = (w, h) if w <= h else (h, w)
                ns, nl = short, int(short * l / s)
                size = (ns, nl) if w <= h else (nl, ns)
            a = np.array(im.resize(size, resample=flt))
            if cw > 0:
                a = hf_center_crop(a, chh, cw)
            a = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
            a = (a - mean) / std
            open(path + ".out", "wb").write(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32).tobytes())


main()
