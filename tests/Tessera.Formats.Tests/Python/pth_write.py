# Writes the checkpoints PthTorchTests reads: state.pt (an OrderedDict of every dtype, shared storages, storage offsets,
# strided views, tied weights), nested.pth (dicts, lists and plain values around it), protocol 4 and 5 copies, and the
# legacy (non-zip) format.
# usage: pth_write.py DIR
import sys, collections, torch
d = sys.argv[1]
torch.manual_seed(0)
base = torch.randn(65)
sd = collections.OrderedDict()
sd["w"] = torch.randn(3, 7)
sd["bf"] = torch.randn(5, 3).to(torch.bfloat16)
sd["h"] = torch.randn(1, 33).half()
sd["f64"] = torch.randn(3, dtype=torch.float64)
sd["i64"] = torch.arange(7) - 3
sd["i32"] = torch.arange(17, dtype=torch.int32) - 8
sd["i16"] = torch.arange(3, dtype=torch.int16)
sd["i8"] = (torch.arange(17) - 8).to(torch.int8)
sd["u8"] = torch.arange(17).to(torch.uint8)
sd["mask"] = torch.arange(7) % 2 == 0
sd["scalar"] = torch.tensor(3.5)
sd["empty"] = torch.zeros(0, 3)
sd["slice"] = base[3:20]
sd["view"] = base.view(5, 13)
sd["tail"] = base[10:43].view(3, 11)
sd["transposed"] = torch.randn(7, 3).t()
sd["every2"] = base[1::2]
sd["expanded"] = torch.randn(3, 1).expand(3, 4)
sd["unit"] = torch.randn(17, 1, 5)[:, :, 1:2]
emb = torch.randn(17, 5)
sd["emb.weight"] = emb
sd["head.weight"] = emb
torch.save(sd, d + "/state.pt")
ckpt = {"model": sd, "ema": {"decay": 0.5, "weights": {"w": torch.randn(3)}}, "step": 17, "name": "run",
        "betas": (0.9, 0.999), "layers": [torch.randn(2), torch.randn(3, 3).half()], "flag": True, "none": None}
torch.save(ckpt, d + "/nested.pth")
torch.save(sd, d + "/legacy.pth", _use_new_zipfile_serialization=False)
for proto in (4, 5):  # FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL instead of protocol 2's opcodes
    torch.save(sd, f"{d}/proto{proto}.pt", pickle_protocol=proto)
