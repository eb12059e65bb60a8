using System.Globalization;
using Tessera.Cpu;

namespace Tessera.Cuda.Tests.Diffusion;

/// <summary>A test backend that forwards every op to a <see cref="CpuBackend"/> and records what was asked of it: the
/// IBackend method and the dtypes, layouts and parameters that decide which CUDA kernel (or which refusal) the same
/// call would meet on <see cref="CudaBackend"/>. Tensors made on it carry it as their backend, so every front-end op a
/// model issues passes through; ops the CPU backend runs inside an op are not recorded twice (outermost call only).
/// This is how the diffusion audit learns the op surface by running the models rather than by reading them. For the ops
/// CUDA runs through its strided kernels it also builds the layouts CudaBackend would (StridedLayoutArg.For, the same
/// host code, which needs no driver) and keeps each refusal (more than six unmergeable dimensions) in
/// <see cref="CudaRefusals"/>.</summary>
internal sealed class OpRecordingBackend(CpuBackend inner) : IBackend
{
    private readonly SortedDictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly List<Storage> _allocated = [];
    private int _depth;

    /// <summary>Calls by key ("Conv2d f32 k3x3 s1 p1 g1 bias" ...), with counts.</summary>
    public IReadOnlyDictionary<string, int> Calls => _calls;

    /// <summary>The calls CudaBackend's host code would refuse before launching anything, with its message.</summary>
    public List<string> CudaRefusals { get; } = [];

    /// <summary>Storage made through this backend and not yet freed: on a device, memory still held.</summary>
    public IEnumerable<Storage> Live => _allocated.Where(s => !s.IsFreed);

    /// <summary>The IBackend methods called (the first word of each key).</summary>
    public IEnumerable<string> Methods => _calls.Keys.Select(k => k.Split(' ')[0]).Distinct();

    public string Name => "cpu";
    public Device Device => inner.Device;

    private void Record(string key, Action run)
    {
        if (_depth > 0) { run(); return; }
        _calls[key] = _calls.GetValueOrDefault(key) + 1;
        _depth++;
        try { run(); }
        finally { _depth--; }
    }

    // The strided layouts CudaBackend builds for these operands (CudaBackend.Elementwise, RowOps, Gemm, GatherReduce).
    private void Admit(string op, Shape shape, params Tensor[] operands)
    {
        if (_depth > 0) return;
        try { StridedLayoutArg.For(op, shape, operands); }
        catch (TesseraException e) { CudaRefusals.Add(e.Message); }
    }

    private static bool F32Contiguous(params Tensor[] ts) => ts.All(t => t.DType == DType.F32 && t.IsContiguous);

    private static Shape Leading(Tensor x) => new(x.Shape.Dims[..^1]);

    private static string D(Tensor t) => t.DType.Name();

    // "contig", "strided" or "bcast" (a stride-0 axis of length > 1): the element-wise kernels take different paths.
    private static string L(Tensor t)
    {
        if (t.IsContiguous) return "contig";
        for (int i = 0; i < t.Rank; i++) if (t.Strides[i] == 0 && t.Shape[i] > 1) return "bcast";
        return "strided";
    }

    private static string Opt(Tensor? t, string name) => t is null ? "" : " " + name;

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    public Storage Allocate(long byteLength)
    {
        var s = HostStorage.Allocate(this, byteLength);
        _allocated.Add(s);
        return s;
    }
    public void CopyFromHost(ReadOnlySpan<byte> source, Storage destination, long destinationByteOffset) => inner.CopyFromHost(source, destination, destinationByteOffset);
    public void CopyToHost(Storage source, long sourceByteOffset, Span<byte> destination) => inner.CopyToHost(source, sourceByteOffset, destination);

    public void Copy(Tensor src, Tensor dst)
    {
        if (src.DType != dst.DType || !src.IsContiguous || !dst.IsContiguous) Admit("copy", src.Shape, src, dst);
        Record($"Copy {D(src)}->{D(dst)} {L(src)}->{L(dst)}", () => inner.Copy(src, dst));
    }
    public void Fill(Tensor dst, double value)
    {
        if (!F32Contiguous(dst)) Admit("fill", dst.Shape, dst);
        Record($"Fill {D(dst)} {L(dst)}", () => inner.Fill(dst, value));
    }
    public void Unary(UnaryOp op, Tensor x, Tensor dst)
    {
        if (!F32Contiguous(x, dst)) Admit(op.ToString(), dst.Shape, x, dst);
        Record($"Unary {op} {D(x)} {L(x)}", () => inner.Unary(op, x, dst));
    }
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst)
    {
        if (!F32Contiguous(a, b, dst)) Admit(op.ToString(), dst.Shape, a, b, dst);
        Record($"Binary {op} {D(a)} {L(a)},{L(b)}", () => inner.Binary(op, a, b, dst));
    }
    public void Affine(Tensor x, Tensor dst, double mul, double add)
    {
        if (!F32Contiguous(x, dst)) Admit("affine", dst.Shape, x, dst);
        Record($"Affine {D(x)} {L(x)}", () => inner.Affine(x, dst, mul, add));
    }

    public void MatMul(Tensor a, Tensor b, Tensor dst, MatMulEpilogue e)
    {
        Tensor[] operands = [a, b, dst, .. e.Residual is null ? [] : new[] { e.Residual }, .. e.Multiplier is null ? [] : new[] { e.Multiplier }];
        Admit("matmul", new Shape(dst.Shape.Dims[..^2]), operands);
        Record(
        $"MatMul {D(a)}x{D(b)} rank{I(dst.Rank)} b:{(b.Strides[^2] == 1 && b.Shape[-2] > 1 ? "transposed" : L(b))}"
        + (e.Activation == Activation.None ? "" : " " + e.Activation) + Opt(e.Bias, "bias") + Opt(e.Residual, "residual") + Opt(e.Multiplier, "multiplier"),
        () => inner.MatMul(a, b, dst, e));
    }

    public void QuantizedMatMul(Tensor x, Tensor w, Tensor? scales, Tensor dst, MatMulEpilogue e) =>
        Record($"QuantizedMatMul {D(x)}x{D(w)}", () => inner.QuantizedMatMul(x, w, scales, dst, e));

    public void Attention(Tensor q, Tensor k, Tensor v, Tensor? mask, AttentionOptions o, Tensor dst, Tensor? lse) => Record(
        $"Attention {D(q)} D{I(q.Shape[3])} {(q.Shape[1] == k.Shape[1] ? "mha" : "gqa")} q:{L(q)}{Opt(mask, "mask")}{(o.Causal ? " causal" : "")}{Opt(lse, "lse")}",
        () => inner.Attention(q, k, v, mask, o, dst, lse));

    public void PagedAttention(Tensor q, Tensor kPool, Tensor vPool, Tensor blockTables, Tensor seqLens, Tensor? queryLens, AttentionOptions o, Tensor dst) =>
        Record($"PagedAttention {D(q)}", () => inner.PagedAttention(q, kPool, vPool, blockTables, seqLens, queryLens, o, dst));

    public void Softmax(Tensor x, Tensor? mask, float scale, Tensor dst)
    {
        Admit("softmax", Leading(x), x, mask ?? x, dst);
        Record($"Softmax {D(x)}{Opt(mask, "mask")}", () => inner.Softmax(x, mask, scale, dst));
    }

    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, Tensor dst)
    {
        Admit("layer_norm", Leading(x), x, dst);
        Record($"LayerNorm {D(x)} {L(x)}{(weight is null && bias is null ? " no-affine" : Opt(weight, "weight") + Opt(bias, "bias"))}",
            () => inner.LayerNorm(x, weight, bias, eps, dst));
    }

    public void RmsNorm(Tensor x, Tensor? weight, float eps, Tensor dst)
    {
        Admit("rms_norm", Leading(x), x, dst);
        Record($"RmsNorm {D(x)} {L(x)}{Opt(weight, "weight")}", () => inner.RmsNorm(x, weight, eps, dst));
    }

    public void Rope(Tensor x, Tensor cos, Tensor sin, RopeMode mode, Tensor dst) => Record($"Rope {D(x)} {mode}", () => inner.Rope(x, cos, sin, mode, dst));
    public void Gather(Tensor table, Tensor ids, Tensor dst) => Record($"Gather {D(table)} ids:{D(ids)}", () => inner.Gather(table, ids, dst));
    public void Compare(CompareOp op, Tensor a, Tensor b, Tensor dst) => Record($"Compare {op} {D(a)}", () => inner.Compare(op, a, b, dst));
    public void Where(Tensor condition, Tensor a, Tensor b, Tensor dst) => Record($"Where {D(a)}", () => inner.Where(condition, a, b, dst));
    public void IndexSelect(Tensor x, Tensor ids, int axis, Tensor dst) => Record($"IndexSelect {D(x)} axis{I(axis)}", () => inner.IndexSelect(x, ids, axis, dst));
    public void TopK(Tensor x, int k, bool largest, Tensor values, Tensor indices) => Record($"TopK {D(x)}", () => inner.TopK(x, k, largest, values, indices));

    public void GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps, Tensor dst)
    {
        Admit("group_norm", x.Shape, x, dst);
        Record($"GroupNorm {D(x)} rank{I(x.Rank)} {L(x)}{Opt(weight, "weight")}{Opt(bias, "bias")}", () => inner.GroupNorm(x, groups, weight, bias, eps, dst));
    }

    public void Reduce(ReduceOp op, Tensor x, int axis, Tensor dst) =>
        Record($"Reduce {op} {D(x)} {(axis == x.Rank - 1 ? "last-axis" : "inner-axis")}", () => inner.Reduce(op, x, axis, dst));

    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst) => Record(
        $"Conv2d {D(x)} k{I(weight.Shape[2])}x{I(weight.Shape[3])} s{I(p.StrideH)}x{I(p.StrideW)} p{I(p.PadH)}x{I(p.PadW)} d{I(p.DilationH)} g{I(p.Groups)}"
        + Opt(bias, "bias") + (p.Activation == Activation.None ? "" : " " + p.Activation) + (p.OutScale != 1f || p.OutShift != 0f ? " affine" : ""),
        () => inner.Conv2d(x, weight, bias, p, dst));

    public void ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, ConvTranspose2dParams p, Tensor dst) =>
        Record($"ConvTranspose2d {D(x)} k{I(weight.Shape[2])}x{I(weight.Shape[3])} s{I(p.StrideH)}", () => inner.ConvTranspose2d(x, weight, bias, p, dst));

    public void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst) =>
        Record($"PatchEmbed {D(x)} p{I(patch)}{Opt(bias, "bias")}", () => inner.PatchEmbed(x, weight, bias, patch, dst));

    public void Pool2d(PoolOp op, Tensor x, Pool2dParams p, Tensor dst) => Record($"Pool2d {op} {D(x)}", () => inner.Pool2d(op, x, p, dst));

    public void Lstm(Tensor x, Tensor w, Tensor r, Tensor? b, Tensor? seqLens, Tensor? initialH, Tensor? initialC, Tensor? p,
        LstmOptions options, Tensor y, Tensor yH, Tensor yC) =>
        Record($"Lstm {D(x)}", () => inner.Lstm(x, w, r, b, seqLens, initialH, initialC, p, options, y, yH, yC));

    public void UpsampleNearest(Tensor x, Tensor? addend, int scaleH, int scaleW, Tensor dst)
    {
        // CudaBackend.UpsampleNearest: x [B, C, H, 1, W, 1] broadcast to [B, C, H, sH, W, sW], one strided copy.
        using (var h1 = x.Unsqueeze(3))
        using (var rows = h1.Unsqueeze(5))
        using (var wide = rows.BroadcastTo(new Shape(x.Shape[0], x.Shape[1], x.Shape[2], scaleH, x.Shape[3], scaleW)))
        using (var dst6 = dst.Reshape(wide.Shape.Dims.ToArray()))
            Admit("upsample_nearest", wide.Shape, wide, dst6);
        Record($"UpsampleNearest {D(x)} x{I(scaleH)}x{I(scaleW)}{Opt(addend, "addend")}", () => inner.UpsampleNearest(x, addend, scaleH, scaleW, dst));
    }

    public void InterpolateBicubic(Tensor x, bool alignCorners, Tensor dst) => Record($"InterpolateBicubic {D(x)}", () => inner.InterpolateBicubic(x, alignCorners, dst));

    public void Dispose() { }
}
