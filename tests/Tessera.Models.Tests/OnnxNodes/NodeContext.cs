using Tessera.Formats.Onnx;

namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>Thrown by a mapping when the node uses an operator, attribute value or dtype that Tessera's op surface
/// does not offer: the case is reported as "not mapped: <see cref="Exception.Message"/>", not as a failure.</summary>
public sealed class NotMappedException(string reason) : Exception(reason);

/// <summary>One ONNX node about to run on Tessera: its inputs as tensors, typed attribute readers with ONNX's defaults,
/// and host reads of the small integer inputs (shapes, axes, starts) that ONNX passes as tensors. Every attribute a
/// mapping reads is recorded, so that <see cref="UnreadAttributes"/> can refuse a node whose attributes a mapping
/// would otherwise ignore silently.</summary>
public sealed class NodeContext(OnnxNode node, int opset, IBackend backend, IReadOnlyList<Tensor?> inputs)
{
    private readonly HashSet<string> _read = [];

    /// <summary>The node.</summary>
    public OnnxNode Node { get; } = node;

    /// <summary>The default-domain opset the model imports (Softmax, Split, Squeeze... changed meaning across opsets).</summary>
    public int Opset { get; } = opset;

    /// <summary>Where the op runs.</summary>
    public IBackend Backend { get; } = backend;

    /// <summary>Normalised MSE the outputs may differ from the expected ones by (ggml's f32 rule by default); a mapping
    /// that composes several rounding steps may loosen it, saying why.</summary>
    public double Tolerance { get; set; } = 1e-7;

    /// <summary>Number of node outputs the graph asks for (trailing optional outputs may be absent).</summary>
    public int OutputCount => Node.Outputs.Count;

    /// <summary>Whether output <paramref name="k"/> is wanted (present and named).</summary>
    public bool Wants(int k) => k < Node.Outputs.Count && Node.Outputs[k].Length > 0;

    /// <summary>Input <paramref name="k"/>, which must be present.</summary>
    public Tensor In(int k) => Opt(k) ?? throw new InvalidDataException($"{Node.OpType}: input {k} is missing");

    /// <summary>Input <paramref name="k"/>, or null when omitted (an empty name or past the end).</summary>
    public Tensor? Opt(int k) => k < inputs.Count ? inputs[k] : null;

    /// <summary>Number of inputs given (including omitted optional ones in the middle).</summary>
    public int InputCount => inputs.Count;

    /// <summary>Whether the attribute is present (and marks it read).</summary>
    public bool Has(string name) { _read.Add(name); return Node.Attributes.ContainsKey(name); }

    /// <summary>An integer attribute, or its default.</summary>
    public long Int(string name, long fallback) =>
        Has(name) ? Node.Attributes[name].Int ?? throw new InvalidDataException($"{Node.OpType}: attribute {name} is not an int") : fallback;

    /// <summary>A float attribute, or its default.</summary>
    public float Float(string name, float fallback) =>
        Has(name) ? Node.Attributes[name].Float ?? throw new InvalidDataException($"{Node.OpType}: attribute {name} is not a float") : fallback;

    /// <summary>A string attribute, or its default.</summary>
    public string Str(string name, string fallback) =>
        Has(name) ? Node.Attributes[name].String ?? throw new InvalidDataException($"{Node.OpType}: attribute {name} is not a string") : fallback;

    /// <summary>An ints attribute, or null when absent.</summary>
    public long[]? Ints(string name) => Has(name) ? [.. Node.Attributes[name].Ints] : null;

    /// <summary>Attributes no mapping asked for: a node using one is not mapped, rather than run with it ignored.</summary>
    public IEnumerable<string> UnreadAttributes => Node.Attributes.Keys.Where(k => !_read.Contains(k));

    /// <summary>An integer input (i32 or i64) read on the host, or null when omitted.</summary>
    public long[]? HostInts(int k)
    {
        var t = Opt(k);
        if (t is null) return null;
        return t.DType switch
        {
            DType.I64 => t.ToArray<long>(),
            DType.I32 => [.. t.ToArray<int>().Select(v => (long)v)],
            _ => throw new InvalidDataException($"{Node.OpType}: input {k} must be an integer tensor, got {t.DType.Name()} {t.Shape}"),
        };
    }

    /// <summary>The first element of input <paramref name="k"/> (a float or integer scalar) read on the host.</summary>
    public double HostScalar(int k) => In(k).DType.IsFloat() ? In(k).ToFloatArray()[0] : HostInts(k)![0];

    /// <summary>A float input read on the host, or null when omitted.</summary>
    public float[]? HostFloats(int k) => Opt(k)?.ToFloatArray();

    /// <summary>Refuses a node whose input <paramref name="k"/> is not floating point (Tessera's arithmetic is float only).</summary>
    public Tensor FloatIn(int k)
    {
        var t = In(k);
        if (!t.DType.IsFloat()) throw new NotMappedException($"{Node.OpType} on {t.DType.Name()}: Tessera's element-wise and reduction ops take float tensors");
        return t;
    }

    /// <summary>A tensor of shape [] holding <paramref name="value"/> in <paramref name="dtype"/>, to broadcast.</summary>
    public Tensor Scalar(double value, DType dtype = DType.F32) => Tensor.Full(Backend, dtype, new Shape(), value);

    /// <summary>Normalises an ONNX axis (negative counts from the end) for a tensor of rank <paramref name="rank"/>.</summary>
    public int Axis(long axis, int rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new InvalidDataException($"{Node.OpType}: axis {axis} out of range for rank {rank}");
        return (int)a;
    }
}
