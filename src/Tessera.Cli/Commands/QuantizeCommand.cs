using System.CommandLine;
using System.Runtime.InteropServices;
using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Quant;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera quantize IN OUT --type q8_0|q4_0|q4_1|q4_k|q6_k|int8</c>: reads safetensors (or a sharded
/// checkpoint) or GGUF, writes GGUF. 2-D float weights whose inner dimension is a whole number of blocks are quantized
/// with ggml's reference quantizers (int8: per-row symmetric, stored as I8 plus a "NAME.scale" f32 [rows] tensor);
/// other float tensors (norms, biases, odd widths) are kept as f32, integer and already-quantized tensors as they are.
/// One line per tensor says what was done. Tensors are converted one at a time while the file is written.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("in") { Description = "safetensors file, sharded index, or GGUF file" };
        var output = new Argument<string>("out") { Description = "GGUF file to write" };
        var type = new Option<string>("--type") { Description = "q8_0, q4_0, q4_1, q4_k, q6_k or int8", Required = true };
        var threads = new Option<int>("--threads") { Description = "quantization threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("quantize", "Quantize a checkpoint's 2-D weights into a GGUF file") { input, output, type, threads };
        cmd.SetAction(pr => InspectCommand.Guard("quantize", () => Run(pr.GetValue(input)!, pr.GetValue(output)!, pr.GetValue(type)!, pr.GetValue(threads), Console.Out)));
        return cmd;
    }

    internal static int Run(string input, string output, string typeName, int threads, TextWriter log)
    {
        bool int8 = typeName.Equals("int8", StringComparison.OrdinalIgnoreCase);
        DType target = int8 ? DType.I8 : DTypeInfo.Parse(typeName);
        if (!int8 && !(target.IsBlock() && BlockQuant.CanQuantize(target)))
            throw new TesseraException($"--type must be q8_0, q4_0, q4_1, q4_k, q6_k or int8, not '{typeName}'");
        if (Path.GetFullPath(input) == Path.GetFullPath(output)) throw new TesseraException("the output would overwrite the input");

        using var src = WeightFile.Open(input);
        var w = new GgufWriter();
        CopyMetadata(src, w, target, int8);
        long inBytes = 0, outBytes = 0;
        int quantized = 0;
        foreach (var name in src.Names)
        {
            var info = src.Info(name);
            inBytes += info.ByteLength;
            string shape = info.DimsText;
            if (info.DType is not { } dt)
            {
                log.WriteLine($"  {name}  {info.TypeName} {shape}: skipped (Tessera cannot hold {info.TypeName})");
                continue;
            }
            long[] dims = info.Dims.ToArray();
            bool isFloat = dt.IsFloat();
            long inner = dims.Length > 0 ? dims[^1] : 1;
            if (isFloat && dims.Length == 2 && dims[0] > 0 && inner > 0 && inner % target.BlockSize() == 0)
            {
                quantized++;
                if (int8)
                {
                    int rows = (int)dims[0], cols = (int)inner;
                    float[]? scales = null;
                    w.AddTensor(new WeightTensor(name, DType.I8, dims, () =>
                    {
                        var q = new sbyte[(long)rows * cols];
                        scales = new float[rows];
                        using (var t = src.Load(name, CpuBackend.Default))
                            ForRows(t, rows, cols, threads, (r, x) => Int8Quant.QuantizeRows(x, 1, cols, q.AsSpan(r * cols, cols), scales.AsSpan(r, 1)));
                        return MemoryMarshal.AsBytes(q.AsSpan()).ToArray();
                    }));
                    w.AddTensor(new WeightTensor(name + ".scale", DType.F32, [rows], () => MemoryMarshal.AsBytes(scales!.AsSpan()).ToArray()));
                    long o = (long)rows * cols + 4L * rows;
                    outBytes += o;
                    log.WriteLine($"  {name}  {info.TypeName} {shape} -> int8 + {name}.scale f32 [{rows}] ({InspectCommand.Bytes(info.ByteLength)} -> {InspectCommand.Bytes(o)})");
                }
                else
                {
                    int rows = (int)dims[0], cols = (int)inner;
                    long rowBytes = target.ByteCount(cols);
                    w.AddTensor(new WeightTensor(name, target, dims, () =>
                    {
                        var q = new byte[rows * rowBytes];
                        using (var t = src.Load(name, CpuBackend.Default))
                            ForRows(t, rows, cols, threads, (r, x) => BlockQuant.Quantize(target, x, q.AsSpan((int)(r * rowBytes), (int)rowBytes)));
                        return q;
                    }));
                    long o = rows * rowBytes;
                    outBytes += o;
                    log.WriteLine($"  {name}  {info.TypeName} {shape} -> {target.Name()} ({InspectCommand.Bytes(info.ByteLength)} -> {InspectCommand.Bytes(o)})");
                }
            }
            else if (isFloat)
            {
                long n = info.ElementCount;
                w.AddTensor(new WeightTensor(name, DType.F32, dims, () =>
                {
                    var f = new float[n];
                    using (var t = src.Load(name, CpuBackend.Default)) BlockQuant.Dequantize(t.DType, Bytes(t), f);
                    return MemoryMarshal.AsBytes(f.AsSpan()).ToArray();
                }));
                outBytes += 4 * n;
                string why = dims.Length != 2 ? $"{dims.Length}-D" : $"inner dimension {inner} is not a multiple of {target.BlockSize()}";
                log.WriteLine($"  {name}  {info.TypeName} {shape}: kept as f32 ({why})");
            }
            else
            {
                // Integer and already-quantized tensors keep their bytes; U8 (no GGUF type) widens to I32.
                var keep = dt == DType.U8 ? DType.I32 : dt;
                w.AddTensor(new WeightTensor(name, keep, dims, () =>
                {
                    using var t = src.Load(name, CpuBackend.Default);
                    if (dt != DType.U8) return Bytes(t).ToArray();
                    return MemoryMarshal.AsBytes(Bytes(t).ToArray().Select(b => (int)b).ToArray().AsSpan()).ToArray();
                }));
                outBytes += keep.ByteCount(info.ElementCount);
                log.WriteLine($"  {name}  {info.TypeName} {shape}: kept as {keep.Name()}");
            }
        }
        w.Write(output);
        log.WriteLine($"{output}: {quantized} of {src.Names.Count} tensors quantized to {(int8 ? "int8" : target.Name())}, {InspectCommand.Bytes(inBytes)} -> {InspectCommand.Bytes(outBytes)} of tensor data");
        return 0;
    }

    private static void CopyMetadata(IWeightSource src, GgufWriter w, DType target, bool int8)
    {
        foreach (var (key, value) in src.Metadata)
        {
            if (key is "general.file_type" or "general.quantization_version") continue;
            w.Add(key, value is GgufValue g ? g : GgufValue.From(value.ToString() ?? ""));
        }
        // llama.cpp's llama_ftype numbers for files whose weights are all one type (Q4_K: "Q4_K_S").
        int? ftype = int8 ? null : target switch { DType.Q4_0 => 2, DType.Q4_1 => 3, DType.Q8_0 => 7, DType.Q4_K => 14, DType.Q6_K => 18, _ => null };
        if (ftype is { } f) w.Add("general.file_type", GgufValue.From((uint)f));
        w.Add("general.quantization_version", GgufValue.From(2u));
    }

    private static unsafe ReadOnlySpan<byte> Bytes(Tensor t) =>
        new((byte*)((HostStorage)t.Storage).Pointer + t.DType.ByteCount(t.Offset), checked((int)t.DType.ByteCount(t.ElementCount)));

    /// <summary>Hands each row of a 2-D float tensor, as f32, to <paramref name="body"/>, rows split over threads.</summary>
    private static unsafe void ForRows(Tensor t, int rows, int cols, int threads, RowAction body)
    {
        byte* basePtr = (byte*)((HostStorage)t.Storage).Pointer + t.DType.ByteCount(t.Offset);
        long rowBytes = t.DType.ByteCount(cols);
        var dtype = t.DType;
        Parallel.For(0, rows, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, () => new float[cols], (r, _, x) =>
        {
            BlockQuant.Dequantize(dtype, new ReadOnlySpan<byte>(basePtr + r * rowBytes, (int)rowBytes), x);
            body(r, x);
            return x;
        }, _ => { });
    }

    private delegate void RowAction(int row, ReadOnlySpan<float> x);
}
