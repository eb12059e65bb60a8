# Writes zip archives laid out as torch.save's whose data.pkl, made by Python's own pickler (protocols 2 and 4), would
# call os.system, eval or exec when unpickled, each creating MARKER.
# usage: pth_hostile.py DIR MARKER
import sys, os, pickle, zipfile
d, marker = sys.argv[1], sys.argv[2]
class System:
    def __reduce__(self): return (os.system, ("touch " + marker,))
class Eval:
    def __reduce__(self): return (eval, ("__import__('os').system('touch " + marker + "')",))
class Exec:
    def __reduce__(self): return (exec, ("open('" + marker + "', 'w')",))
for name, obj in [("system", System()), ("eval", Eval()), ("exec", Exec())]:
    for proto in (2, 4):
        with zipfile.ZipFile(f"{d}/{name}{proto}.pth", "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", pickle.dumps({"w": obj}, protocol=proto))
            z.writestr("archive/byteorder", "little")
