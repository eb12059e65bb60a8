namespace Tessera.Formats.Pytorch;

/// <summary>The only globals a checkpoint's pickle may name, and what REDUCE and NEWOBJ make of them: a plain value
/// built here from the arguments, as data. Python would import and call a global; nothing is imported or called here,
/// and any name outside this list (<c>os.system</c>, <c>builtins.eval</c>, a model class) is refused.</summary>
internal static class PickleGlobals
{
    private const string RebuildTensorV2 = "torch._utils._rebuild_tensor_v2", RebuildTensor = "torch._utils._rebuild_tensor";
    private const string RebuildParameter = "torch._utils._rebuild_parameter", RebuildParameterWithState = "torch._utils._rebuild_parameter_with_state";
    private const string OrderedDict = "collections.OrderedDict";

    private static readonly HashSet<string> Callables =
    [
        OrderedDict, RebuildTensorV2, RebuildTensor, RebuildParameter, RebuildParameterWithState, "torch.Size",
        "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset",
    ];

    /// <summary>Whether <c>module.name</c> is on the allow-list (a rebuilder, a container or a torch storage type).</summary>
    public static bool IsAllowed(string module, string name) =>
        Callables.Contains(module + "." + name) || (module == "torch" && PthStorageType.Find(name) != null);

    /// <summary>REDUCE: what calling <paramref name="f"/> with <paramref name="args"/> builds, as data.</summary>
    public static object? Reduce(PyGlobal f, PyTuple args, Func<string, WeightFormatException> fail)
    {
        var a = args.Items;
        switch (f.FullName)
        {
            case OrderedDict:
                var d = new PyDict();
                if (a.Length == 0) return d;
                if (a.Length == 1 && a[0] is PyList pairs)
                {
                    foreach (var p in pairs)
                        if (p is PyTuple { Items.Length: 2 } kv) d.Set(kv.Items[0], kv.Items[1]);
                        else throw fail("OrderedDict(...) takes (key, value) pairs");
                    return d;
                }
                throw fail($"OrderedDict called with {a.Length} arguments");
            case RebuildTensorV2 when a.Length is 6 or 7:
            case RebuildTensor when a.Length == 4:
                return Tensor(a, fail);
            case RebuildParameter when a.Length == 3:
            case RebuildParameterWithState when a.Length == 4:
                return a[0] as PthTensorView ?? throw fail($"{f.Name} rebuilds a {Describe(a[0])}, not a tensor");
            case "torch.Size" when a.Length == 1 && a[0] is PyTuple t:
                return t;
            case "builtins.set" or "builtins.frozenset" or "__builtin__.set" or "__builtin__.frozenset" when a.Length <= 1:
                var s = new PyList();
                if (a.Length == 1)
                    s.AddRange(a[0] switch { PyList l => l, PyTuple t => t.Items, _ => throw fail($"{f.Name}() of a {Describe(a[0])}") });
                return s;
            default:
                throw fail($"{f.FullName} called with {a.Length} arguments ({string.Join(", ", a.Select(Describe))}), which a checkpoint does not do");
        }
    }

    /// <summary>NEWOBJ: <c>cls.__new__(cls, *args)</c>, only for the container classes.</summary>
    public static object? New(PyGlobal cls, PyTuple args, Func<string, WeightFormatException> fail) =>
        cls.FullName == OrderedDict && args.Items.Length == 0 ? new PyDict() : throw fail($"NEWOBJ of {cls.FullName} is not accepted");

    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]): the strided
    // view is checked against its storage when the state dict is flattened, where the tensor's name is known.
    private static PthTensorView Tensor(object?[] a, Func<string, WeightFormatException> fail)
    {
        if (a[0] is not PthStorage storage) throw fail($"a tensor rebuilt from a {Describe(a[0])}, not a storage");
        if (a[1] is not long offset || offset < 0) throw fail($"a tensor's storage offset is {Describe(a[1])}, not an integer >= 0");
        long[] size = Ints(a[2], "size", fail), stride = Ints(a[3], "stride", fail);
        if (size.Length != stride.Length) throw fail($"a tensor has {size.Length} sizes but {stride.Length} strides");
        return new PthTensorView(storage, offset, size, stride);
    }

    private static long[] Ints(object? v, string what, Func<string, WeightFormatException> fail)
    {
        if (v is not PyTuple t) throw fail($"a tensor's {what} is a {Describe(v)}, not a tuple");
        if (t.Items.Length > PthFile.MaxDims) throw fail($"a tensor's {what} has {t.Items.Length} dimensions (at most {PthFile.MaxDims} accepted)");
        var r = new long[t.Items.Length];
        for (int i = 0; i < r.Length; i++)
            r[i] = t.Items[i] is long n && n >= 0 ? n : throw fail($"a tensor's {what}[{i}] is {Describe(t.Items[i])}, not an integer >= 0");
        return r;
    }

    /// <summary>A short description of a pickled value for messages ("str 'abc'", "int 3", "tuple of 2").</summary>
    public static string Describe(object? v) => v switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        long n => $"int {n}",
        double x => $"float {x}",
        string s => $"str '{(s.Length > 40 ? s[..40] + "..." : s)}'",
        byte[] b => $"bytes of {b.Length}",
        PyTuple t => $"tuple of {t.Items.Length}",
        PyList l => $"list of {l.Count}",
        PyDict d => $"dict of {d.Items.Count}",
        PyGlobal g => g.FullName,
        PthStorage s => $"storage '{s.Key}'",
        PthTensorView => "tensor",
        _ => v.GetType().Name,
    };
}
