# What torch.load finds in a .pth file, flattened as Tessera's PthFile names it: prints JSON (each tensor's name, dtype,
# shape, strides, storage offset, contiguity, byte count; the non-tensor values as text) and writes every tensor's
# values, made contiguous, as raw little-endian bytes in order to a blob file.
# usage: pth_dump.py CHECKPOINT BLOB WRITTEN_HERE(0|1)
import sys, json, torch
path, blob, written_here = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
# torch 1.13's weights_only unpickler lacks BINFLOAT: files this test wrote itself are loaded in full.
obj = torch.load(path, map_location="cpu", weights_only=not written_here)
tensors, meta = [], {}
def scalar(v): return v is None or isinstance(v, (bool, int, float, str))
def rep(v):
    if v is None: return "None"
    if isinstance(v, bool): return "True" if v else "False"
    return repr(v) if isinstance(v, float) else str(v)
def join(name, k): return f"{name}.{k}" if name else str(k)
def walk(v, name):
    if torch.is_tensor(v): tensors.append((name, v))
    elif isinstance(v, dict):
        for k, x in v.items(): walk(x, join(name, k))
    elif isinstance(v, (list, tuple)):
        if all(scalar(x) for x in v): meta[name] = "[" + ", ".join(rep(x) for x in v) + "]"
        else:
            for i, x in enumerate(v): walk(x, join(name, i))
    elif scalar(v): meta[name] = rep(v)
walk(obj, "")
out = []
with open(blob, "wb") as f:
    for name, t in tensors:
        c = t.contiguous()
        data = (c.view(torch.int16) if c.dtype == torch.bfloat16 else c).numpy().tobytes()
        f.write(data)
        out.append(dict(name=name, dtype=str(t.dtype).replace("torch.", ""), shape=list(t.shape), stride=list(t.stride()),
                        offset=t.storage_offset(), contiguous=t.is_contiguous(), bytes=len(data)))
print(json.dumps(dict(tensors=out, metadata=meta)))
