namespace Tessera.Formats;

/// <summary>Hands a model its weights by their published names, as candle's <c>VarBuilder</c> does: <see cref="Pp(string)"/>
/// pushes a name prefix (<c>wb.Pp("vision_model").Pp("encoder")</c>), <see cref="Get(string, int[])"/> loads a tensor
/// and checks its shape, naming the tensor, the file and both shapes when they differ. Tensors are loaded in their
/// stored dtype and zero-copy over the file's mapping on a CPU backend (bf16 stays bf16, Q4_0 stays Q4_0) unless the
/// <see cref="WeightBuilderOptions"/> or the call asks for a conversion.
///
/// A builder and every builder made from it by <see cref="Pp(string)"/> share one <see cref="WeightSet"/>: everything loaded
/// (and everything a layer derives at load and registers with <see cref="Own"/>) is owned there. Load a model inside
/// <c>using var wb = ...</c> and call <see cref="Commit"/> when it is complete: the model takes the set and disposes
/// it; if loading throws first, disposing the builder disposes what was loaded so far.</summary>
/// <example>
/// <code>
/// using var wb = WeightBuilder.Open(cpu, new WeightBuilderOptions(Renames: WeightRenames.GgufLlama), "model.gguf");
/// var cfg = LlamaConfigFromGguf.Read((GgufFile)wb.Sources[0]);     // or HfConfig.Load&lt;LlamaConfig&gt;(directory)
/// var attn = wb.Pp("model.layers").Pp(0).Pp("self_attn");
/// var q = attn.Get("q_proj.weight", cfg.NumAttentionHeads * cfg.HeadDimension, cfg.HiddenSize); // Q4_0 stays Q4_0
/// var bias = attn.GetOptional("q_proj.bias", -1);
/// WeightSet weights = wb.Commit();                                  // the model owns and disposes them from here
/// </code>
/// </example>
public sealed class WeightBuilder : IDisposable
{
    private readonly Root _root;

    /// <summary>The name prefix of this builder ("" at the root; "vision_model.encoder" after two Pp calls).</summary>
    public string Prefix { get; }

    private WeightBuilder(Root root, string prefix)
    {
        _root = root;
        Prefix = prefix;
    }

    /// <summary>A builder over open weight sources, searched in order (the builder disposes them).</summary>
    public static WeightBuilder FromSources(IBackend backend, IEnumerable<IWeightSource> sources, WeightBuilderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var list = sources.ToList();
        if (list.Count == 0) throw new ArgumentException("a weight builder needs at least one source", nameof(sources));
        var root = new Root(backend, list, options ?? WeightBuilderOptions.Default);
        var builder = new WeightBuilder(root, "");
        root.Owner = builder;
        return builder;
    }

    /// <summary>A builder over one or more weight files (<see cref="WeightFile.Open"/>: safetensors, sharded
    /// safetensors, GGUF, ONNX, PyTorch .pth).</summary>
    public static WeightBuilder Open(IBackend backend, params string[] paths) => Open(backend, null, paths);

    /// <summary>A builder over one or more weight files with options.</summary>
    public static WeightBuilder Open(IBackend backend, WeightBuilderOptions? options, params string[] paths)
    {
        var opened = new List<IWeightSource>();
        try
        {
            foreach (var p in paths) opened.Add(WeightFile.Open(p));
            return FromSources(backend, opened, options);
        }
        catch
        {
            foreach (var s in opened) s.Dispose();
            throw;
        }
    }

    /// <summary>The backend tensors are loaded onto.</summary>
    public IBackend Backend => _root.Backend;

    /// <summary>The options in force.</summary>
    public WeightBuilderOptions Options => _root.Options;

    /// <summary>The sources searched, in order.</summary>
    public IReadOnlyList<IWeightSource> Sources => _root.Sources;

    /// <summary>The first source's path, for messages.</summary>
    public string Path => _root.Sources[0].Path;

    /// <summary>What this builder has loaded or been given so far.</summary>
    public WeightSet Weights => _root.Set;

    /// <summary>A builder whose names are prefixed with <paramref name="name"/> (joined with a dot).</summary>
    public WeightBuilder Pp(string name) => new(_root, Join(Prefix, name));

    /// <summary>A builder for a numbered child (<c>wb.Pp("layers").Pp(3)</c> is "layers.3").</summary>
    public WeightBuilder Pp(int index) => Pp(index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The full name <paramref name="name"/> has under this builder's prefix.</summary>
    public string FullName(string name) => Join(Prefix, name);

    /// <summary>Whether a tensor of that name (under the prefix, after renames) exists in some source.</summary>
    public bool Contains(string name) => _root.Find(FullName(name)) is not null;

    /// <summary>The stored tensor's type and shape; throws naming the tensor when absent.</summary>
    public TensorInfo Info(string name)
    {
        var (source, stored) = Locate(name);
        return source.Info(stored);
    }

    /// <summary>Loads a tensor, checking its shape when <paramref name="shape"/> is given (a -1 accepts any size on that
    /// axis). The dtype follows the options (stored dtype by default).</summary>
    public Tensor Get(string name, params int[] shape) => Load(name, shape, null);

    /// <summary>Loads a tensor converted to <paramref name="dtype"/> (no copy when it already has it): float to float,
    /// block-quantized to float (ggml's dequantizers), or float to a block type such as Q8_0 (ggml's reference
    /// quantizers; the last dimension must be a multiple of the block).</summary>
    public Tensor GetAs(string name, DType dtype, params int[] shape) => Load(name, shape, dtype);

    /// <summary>Like <see cref="Get(string, int[])"/>, or null when the tensor is absent (a present tensor of the wrong
    /// shape still throws).</summary>
    public Tensor? GetOptional(string name, params int[] shape) => Contains(name) ? Load(name, shape, null) : null;

    /// <summary>Like <see cref="GetAs"/>, or null when the tensor is absent.</summary>
    public Tensor? GetOptionalAs(string name, DType dtype, params int[] shape) => Contains(name) ? Load(name, shape, dtype) : null;

    /// <summary>The values of a float tensor on the host, as f32 (for folding at load time: batch norms, affines);
    /// the shape is checked as by <see cref="Get(string, int[])"/>. Nothing is kept.</summary>
    public float[] GetHost(string name, params int[] shape)
    {
        var (source, stored) = Locate(name);
        using var t = source.Load(stored, Backend);
        CheckShape(name, source, stored, t.Shape, shape, t.DType);
        if (!t.DType.IsBlock()) return t.ToFloatArray();
        using var f = BlockConversion.Convert(t, DType.F32, source.Info(stored).File, FullName(name));
        return f.ToArray<float>();
    }

    /// <summary>A tensor that holds exactly one value, read on the host.</summary>
    public float GetScalar(string name)
    {
        var v = GetHost(name);
        if (v.Length != 1) throw new WeightFormatException(Locate(name).Source.Path, FullName(name), $"should hold one value, it holds {v.Length}");
        return v[0];
    }

    /// <summary>Registers a tensor a layer made at load time (a folded weight, a table) with the builder's set, so it is
    /// disposed with the model, or with the builder if loading fails; returns it.</summary>
    public Tensor Own(Tensor t) => _root.Set.Add(t);

    /// <summary>Uploads host values as a constant weight owned by the set (subnormal values flushed to zero: an FMA on
    /// one takes a microcode assist on x86, and no f32 result changes). The caller's array is left as it was.</summary>
    public Tensor Upload(float[] values, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (Array.Exists(values, float.IsSubnormal))
        {
            values = (float[])values.Clone();
            for (int i = 0; i < values.Length; i++)
                if (float.IsSubnormal(values[i])) values[i] = 0;
        }
        using var t = Tensor.FromArray(Backend, values, shape);
        return Own(t.AsConstant());
    }

    /// <summary>Marks loading complete: returns the set of weights for the model to own and dispose. Disposing the
    /// builder afterwards closes the sources only (the tensors keep their mappings alive).</summary>
    public WeightSet Commit()
    {
        _root.Committed = true;
        return _root.Set;
    }

    /// <summary>Closes the sources; disposes every loaded tensor unless <see cref="Commit"/> was called.</summary>
    public void Dispose()
    {
        if (!ReferenceEquals(this, _root.Owner)) return; // builders made by Pp share the root's lifetime
        _root.Dispose();
    }

    private Tensor Load(string name, int[] shape, DType? dtype)
    {
        var (source, stored) = Locate(name);
        var t = source.Load(stored, Backend);
        try
        {
            CheckShape(name, source, stored, t.Shape, shape, t.DType);
            var target = dtype ?? Options.TargetFor(t.DType);
            if (target is { } d && d != t.DType)
            {
                var converted = BlockConversion.Convert(t, d, source.Info(stored).File, FullName(name));
                t.Dispose();
                t = converted;
            }
            t.Storage.MarkConstant();
            return _root.Set.Add(t);
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    private (IWeightSource Source, string Stored) Locate(string name)
    {
        string full = FullName(name);
        return _root.Find(full) ?? throw new WeightFormatException(_root.Sources[0].Path, full, _root.MissingMessage(full));
    }

    private void CheckShape(string name, IWeightSource source, string stored, Shape found, int[] expected, DType dtype)
    {
        if (expected.Length == 0) return;
        bool ok = found.Rank == expected.Length;
        for (int i = 0; ok && i < expected.Length; i++) ok = expected[i] < 0 || expected[i] == found[i];
        if (ok) return;
        string full = FullName(name);
        string storedAs = stored == full ? "" : $" (stored as '{stored}')";
        string want = string.Join(", ", expected.Select(e => e < 0 ? "*" : e.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        // The shard's path, not the index's, for a sharded checkpoint.
        throw new WeightFormatException(source.Info(stored).File, full, $"is {dtype.Name()} {found}{storedAs}, expected [{want}]");
    }

    private static string Join(string prefix, string name) =>
        prefix.Length == 0 ? name : name.Length == 0 ? prefix : prefix + "." + name;

    private sealed class Root(IBackend backend, List<IWeightSource> sources, WeightBuilderOptions options) : IDisposable
    {
        public IBackend Backend { get; } = backend;
        public List<IWeightSource> Sources { get; } = sources;
        public WeightBuilderOptions Options { get; } = options;
        public WeightSet Set { get; } = new();
        public bool Committed { get; set; }
        public WeightBuilder? Owner { get; set; }
        private bool _disposed;

        /// <summary>The source and stored name for a full name: the name itself, then each rename's candidates.</summary>
        public (IWeightSource, string)? Find(string full)
        {
            foreach (var candidate in Options.Renames.Candidates(full))
                foreach (var s in Sources)
                    if (s.Contains(candidate)) return (s, candidate);
            return null;
        }

        public string MissingMessage(string full)
        {
            var tried = Options.Renames.Candidates(full).Distinct().ToList();
            string also = tried.Count > 1 ? $" (also tried {string.Join(", ", tried.Skip(1).Select(t => $"'{t}'"))})" : "";
            // The nearest stored names help when a prefix is off by one level or a name is misspelt.
            var near = NearNames.Find(full, Sources.SelectMany(s => s.Names));
            string hint = near.Count > 0 ? $"; stored names like it: {string.Join(", ", near.Select(n => $"'{n}'"))}" : "";
            return $"no such tensor in {string.Join(" or ", Sources.Select(s => s.Path))}{also}{hint}";
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            if (!Committed) Set.Dispose();
            foreach (var s in Sources) s.Dispose();
        }
    }
}
