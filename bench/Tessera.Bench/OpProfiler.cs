using System.Diagnostics;
using System.Globalization;
using Tessera.Cpu;

namespace Tessera.Bench;

/// <summary>A bench-only backend that forwards every op to a <see cref="CpuBackend"/> and times it, keyed by op and
/// shapes, so a model's forward can be broken down per op (`--profile 1` of the PP-OCR peers). Tensors made on it
/// carry it as their backend, so every front-end op of a model passes through; ops the CPU backend runs inside an op
/// (its own temporaries) are not counted twice: only the outermost call is timed. Per op it records wall time, the
/// calling thread's CPU time (on a shared machine the steadier number; with several threads it leaves out the
/// helpers' share) and the managed bytes the op allocated. Attention keys leave out the key length (a decode step's
/// grows by one each token) unless <paramref name="keyLengths"/>.</summary>
public sealed class OpProfiler(CpuBackend inner, bool keyLengths = true) : IBackend
{
    private readonly Dictionary<string, (double Ms, double CpuMs, long Bytes, long Calls)> _ops = new();
    private (double Ms, double CpuMs, long Bytes) _outside;
    private int _depth;

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <inheritdoc/>
    public Device Device => inner.Device;

    /// <summary>Forgets everything timed so far (after warm-up).</summary>
    public void Reset()
    {
        _ops.Clear();
        _outside = default;
    }

    /// <summary>Runs one whole forward (<paramref name="run"/>) and books what it spent outside the ops (tensor and view
    /// objects, the model's own code) as "(outside ops)".</summary>
    public void Whole(Action run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var before = Totals();
        long t0 = Stopwatch.GetTimestamp(), a0 = GC.GetAllocatedBytesForCurrentThread();
        double c0 = ThreadCpuClock.NowMsOrNaN();
        run();
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds, cpu = ThreadCpuClock.NowMsOrNaN() - c0;
        long bytes = GC.GetAllocatedBytesForCurrentThread() - a0;
        var after = Totals();
        _outside = (_outside.Ms + ms - (after.Ms - before.Ms), _outside.CpuMs + cpu - (after.CpuMs - before.CpuMs),
            _outside.Bytes + bytes - (after.Bytes - before.Bytes));
    }

    private (double Ms, double CpuMs, long Bytes) Totals() =>
        (_ops.Values.Sum(v => v.Ms), _ops.Values.Sum(v => v.CpuMs), _ops.Values.Sum(v => v.Bytes));

    /// <summary>Prints one JSON line per op key, largest total (thread CPU time where it can be read) first, with its share
    /// of all timed ops; then the ops' total and, after <see cref="Whole"/> runs, what was spent outside the ops.</summary>
    public void Print(string model, int runs)
    {
        var (total, totalCpu, totalBytes) = Totals();
        bool cpuClock = !double.IsNaN(totalCpu);
        var ci = CultureInfo.InvariantCulture;
        foreach (var (key, (ms, cpu, bytes, calls)) in _ops.OrderByDescending(kv => cpuClock ? kv.Value.CpuMs : kv.Value.Ms))
            Console.WriteLine(string.Create(ci,
                $"{{\"model\":\"{model}\",\"op\":\"{key}\",\"ms_per_run\":{ms / runs:F3},\"cpu_us_per_run\":{cpu * 1e3 / runs:F1}," +
                $"\"calls_per_run\":{calls / (double)runs:F1},\"cpu_us_per_call\":{cpu * 1e3 / calls:F2},\"alloc_bytes_per_run\":{bytes / runs}," +
                $"\"share\":{(cpuClock ? cpu / totalCpu : ms / total):F3}}}"));
        Console.WriteLine(string.Create(ci,
            $"{{\"model\":\"{model}\",\"op\":\"(all ops)\",\"ms_per_run\":{total / runs:F3},\"cpu_us_per_run\":{totalCpu * 1e3 / runs:F1},\"alloc_bytes_per_run\":{totalBytes / runs}}}"));
        if (_outside != default)
            Console.WriteLine(string.Create(ci,
                $"{{\"model\":\"{model}\",\"op\":\"(outside ops)\",\"ms_per_run\":{_outside.Ms / runs:F3},\"cpu_us_per_run\":{_outside.CpuMs * 1e3 / runs:F1},\"alloc_bytes_per_run\":{_outside.Bytes / runs}}}"));
    }

    private void Time(string key, Action run)
    {
        if (_depth > 0) { run(); return; }
        _depth++;
        long t0 = Stopwatch.GetTimestamp(), a0 = GC.GetAllocatedBytesForCurrentThread();
        double c0 = ThreadCpuClock.NowMsOrNaN();
        try { run(); }
        finally
        {
            _depth--;
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds, cpu = ThreadCpuClock.NowMsOrNaN() - c0;
            long bytes = GC.GetAllocatedBytesForCurrentThread() - a0;
            var (m, c, b, n) = _ops.GetValueOrDefault(key);
            _ops[key] = (m + ms, c + cpu, b + bytes, n + 1);
        }
    }

    private string Kv(Tensor k) => keyLengths ? S(k) : $"[{k.Dim(0)}, {k.Dim(1)}, Skv, {k.Dim(3)}]";

    private static string S(Tensor t) => t.Shape.ToString();

    /// <inheritdoc/>
    public Storage Allocate(long byteLength) => HostStorage.Allocate(this, byteLength);

    /// <inheritdoc/>
    public Storage AllocateUninitialized(long byteLength) => HostStorage.Allocate(this, byteLength, zeroed: false);

    /// <inheritdoc/>
    public void CopyFromHost(ReadOnlySpan<byte> source, Storage destination, long destinationByteOffset) =>
        inner.CopyFromHost(source, destination, destinationByteOffset);

    /// <inheritdoc/>
    public void CopyToHost(Storage source, long sourceByteOffset, Span<byte> destination) => inner.CopyToHost(source, sourceByteOffset, destination);

    /// <inheritdoc/>
    public void Copy(Tensor src, Tensor dst) => Time($"copy {S(dst)}{(src.IsContiguous ? "" : " strided")}", () => inner.Copy(src, dst));

    /// <inheritdoc/>
    public void UpsampleNearest(Tensor x, Tensor? addend, int scaleH, int scaleW, Tensor dst) =>
        Time($"upsample_nearest {S(x)}->{S(dst)}{(addend is null ? "" : " +add")}", () => inner.UpsampleNearest(x, addend, scaleH, scaleW, dst));

    /// <inheritdoc/>
    public void Fill(Tensor dst, double value) => Time($"fill {S(dst)}", () => inner.Fill(dst, value));

    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor x, Tensor dst) => Time($"unary {op} {S(dst)}", () => inner.Unary(op, x, dst));

    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor dst) => Time($"binary {op} {S(dst)}", () => inner.Binary(op, a, b, dst));

    /// <inheritdoc/>
    public void Affine(Tensor x, Tensor dst, double mul, double add) => Time($"affine {S(dst)}", () => inner.Affine(x, dst, mul, add));

    /// <inheritdoc/>
    public void MatMul(Tensor a, Tensor b, Tensor dst, MatMulEpilogue epilogue) =>
        Time($"matmul {S(a)} x {S(b)}{(epilogue.Activation != Activation.None ? " " + epilogue.Activation : "")}", () => inner.MatMul(a, b, dst, epilogue));

    /// <inheritdoc/>
    public void QuantizedMatMul(Tensor x, Tensor w, Tensor? scales, Tensor dst, MatMulEpilogue epilogue) =>
        Time($"qmatmul {S(x)} x {w.DType.Name()} {S(w)}{(epilogue.Activation != Activation.None ? " " + epilogue.Activation : "")}",
            () => inner.QuantizedMatMul(x, w, scales, dst, epilogue));

    /// <inheritdoc/>
    public void Attention(Tensor q, Tensor k, Tensor v, Tensor? mask, AttentionOptions options, Tensor dst, Tensor? logSumExp) =>
        Time($"attention q {S(q)} k {(k.Rank == 4 ? Kv(k) : S(k))}", () => inner.Attention(q, k, v, mask, options, dst, logSumExp));

    /// <inheritdoc/>
    public void PagedAttention(Tensor q, Tensor kPool, Tensor vPool, Tensor blockTables, Tensor seqLens, Tensor? queryLens,
        AttentionOptions options, Tensor dst) =>
        Time($"paged_attention q {S(q)}", () => inner.PagedAttention(q, kPool, vPool, blockTables, seqLens, queryLens, options, dst));

    /// <inheritdoc/>
    public void IndexSelect(Tensor x, Tensor ids, int axis, Tensor dst) =>
        Time($"index_select {S(x)} -> {S(dst)}", () => inner.IndexSelect(x, ids, axis, dst));

    /// <inheritdoc/>
    public void Softmax(Tensor x, Tensor? mask, float scale, Tensor dst) => Time($"softmax {S(dst)}", () => inner.Softmax(x, mask, scale, dst));

    /// <inheritdoc/>
    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps, Tensor dst) => Time($"layernorm {S(dst)}", () => inner.LayerNorm(x, weight, bias, eps, dst));

    /// <inheritdoc/>
    public void RmsNorm(Tensor x, Tensor? weight, float eps, Tensor dst) => Time($"rmsnorm {S(dst)}", () => inner.RmsNorm(x, weight, eps, dst));

    /// <inheritdoc/>
    public void GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps, Tensor dst) =>
        Time($"groupnorm g{groups} {S(dst)}", () => inner.GroupNorm(x, groups, weight, bias, eps, dst));

    /// <inheritdoc/>
    public void Rope(Tensor x, Tensor cos, Tensor sin, RopeMode mode, Tensor dst) => Time($"rope {S(dst)}", () => inner.Rope(x, cos, sin, mode, dst));

    /// <inheritdoc/>
    public void Gather(Tensor table, Tensor ids, Tensor dst) => Time($"gather {S(dst)}", () => inner.Gather(table, ids, dst));

    /// <inheritdoc/>
    public void Reduce(ReduceOp op, Tensor x, int axis, Tensor dst) => Time($"reduce {op} {S(x)}", () => inner.Reduce(op, x, axis, dst));

    /// <inheritdoc/>
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dParams p, Tensor dst) =>
        Time($"conv2d {weight.Shape[2]}x{weight.Shape[3]}/{p.StrideH}{p.StrideW} g{p.Groups} {S(x)}->{S(dst)}", () => inner.Conv2d(x, weight, bias, p, dst));

    /// <inheritdoc/>
    public void ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, ConvTranspose2dParams p, Tensor dst) =>
        Time($"conv_transpose2d {S(x)}->{S(dst)}", () => inner.ConvTranspose2d(x, weight, bias, p, dst));

    /// <inheritdoc/>
    public void PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch, Tensor dst) => Time($"patch_embed {S(x)}", () => inner.PatchEmbed(x, weight, bias, patch, dst));

    /// <inheritdoc/>
    public void Pool2d(PoolOp op, Tensor x, Pool2dParams p, Tensor dst) => Time($"pool {op} {S(x)}->{S(dst)}", () => inner.Pool2d(op, x, p, dst));

    /// <inheritdoc/>
    public void InterpolateBicubic(Tensor x, bool alignCorners, Tensor dst) => Time($"bicubic {S(dst)}", () => inner.InterpolateBicubic(x, alignCorners, dst));

    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>ONNX Runtime's own per-node profile of the same model (SessionOptions.EnableProfiling), summed by op type
/// and by node, so its breakdown can be set beside <see cref="OpProfiler"/>'s.</summary>
public static class OrtProfile
{
    /// <summary>Runs <paramref name="run"/> (which runs the session <paramref name="runs"/> times after warm-up), ends
    /// the profile and prints one JSON line per op type and the 25 most expensive nodes.</summary>
    public static void Print(Microsoft.ML.OnnxRuntime.InferenceSession session, string model, int runs, Action run)
    {
        run();
        string file = session.EndProfiling();
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        File.Delete(file);
        var byType = new Dictionary<string, double>();
        var byNode = new Dictionary<string, double>();
        foreach (var ev in doc.RootElement.EnumerateArray())
        {
            if (!ev.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            string name = ev.GetProperty("name").GetString() ?? "";
            if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            string type = ev.GetProperty("args").GetProperty("op_name").GetString() ?? "?";
            double us = ev.GetProperty("dur").GetDouble();
            byType[type] = byType.GetValueOrDefault(type) + us;
            byNode[name] = byNode.GetValueOrDefault(name) + us;
        }
        var ci = CultureInfo.InvariantCulture;
        foreach (var (t, us) in byType.OrderByDescending(kv => kv.Value))
            Console.WriteLine(string.Create(ci, $"{{\"model\":\"{model}\",\"engine\":\"onnxruntime\",\"op_type\":\"{t}\",\"ms_per_run\":{us / 1000 / runs:F3}}}"));
        foreach (var (n, us) in byNode.OrderByDescending(kv => kv.Value).Take(25))
            Console.WriteLine(string.Create(ci, $"{{\"model\":\"{model}\",\"engine\":\"onnxruntime\",\"node\":\"{n}\",\"ms_per_run\":{us / 1000 / runs:F3}}}"));
        Console.WriteLine(string.Create(ci, $"{{\"model\":\"{model}\",\"engine\":\"onnxruntime\",\"op_type\":\"(all)\",\"ms_per_run\":{byType.Values.Sum() / 1000 / runs:F3}}}"));
    }
}
