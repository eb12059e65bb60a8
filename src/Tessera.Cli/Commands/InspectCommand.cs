using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Formats.Pytorch;
using Tessera.Formats.Safetensors;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera inspect FILE [--json]</c>: the format, metadata and tensors (name, type, shape, byte offset)
/// of a safetensors file or sharded checkpoint, a GGUF file, an ONNX model or a PyTorch .pth checkpoint (its pickle read
/// as data, never executed; a tensor saved as a strided view shows its strides). Nothing but the header is read.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "a .safetensors, .safetensors.index.json, .gguf, .onnx or PyTorch .pth/.pt/.bin/.ckpt file" };
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var full = new Option<bool>("--full") { Description = "show metadata arrays whole, not their first 8 elements" };
        var cmd = new Command("inspect", "Show a weight file's format, metadata and tensors") { file, json, full };
        cmd.SetAction(pr => Guard("inspect", () =>
        {
            using var src = WeightFile.Open(pr.GetValue(file)!);
            var report = Report(src, pr.GetValue(full) ? int.MaxValue : 8);
            if (pr.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(report, Json.InspectReport));
            else Print(report);
            return 0;
        }));
        return cmd;
    }

    // Names and strings in weight files are often non-ASCII (tokenizer pieces): print them as they are.
    private static readonly InspectJsonContext Json = new(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    internal static InspectReport Report(IWeightSource src, int maxItems)
    {
        var details = new Dictionary<string, string>();
        switch (src)
        {
            case GgufFile g:
                details["version"] = g.Version.ToString();
                details["alignment"] = g.Alignment.ToString();
                details["data_offset"] = g.DataOffset.ToString();
                break;
            case SafetensorsFile s:
                details["data_offset"] = s.DataOffset.ToString();
                break;
            case ShardedSafetensors sh:
                details["shards"] = sh.Shards.Count.ToString();
                break;
            case PthFile p:
                details["archive"] = p.ArchiveName;
                break;
        }
        var metadata = src.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value switch
        {
            GgufValue { Value: string s } => s,
            GgufValue v => v.ToString(maxItems),
            var o => o.ToString() ?? "",
        });
        var tensors = src.Names.Select(n =>
        {
            var i = src.Info(n);
            return new InspectTensor(i.Name, i.TypeName, i.Dims.ToArray(), i.Offset, i.ByteLength,
                src is ShardedSafetensors ? Path.GetFileName(i.File) : null,
                src is PthFile p && !p.IsContiguous(n) ? p.Strides(n).ToArray() : null);
        }).ToList();
        return new InspectReport(src.Path, src.Format, details, metadata, tensors, tensors.Sum(t => t.bytes));
    }

    private static void Print(InspectReport r)
    {
        Console.WriteLine($"file      {r.file}");
        Console.WriteLine($"format    {r.format}{(r.details.Count > 0 ? " (" + string.Join(", ", r.details.Select(kv => $"{kv.Key} {kv.Value}")) + ")" : "")}");
        Console.WriteLine($"metadata  {r.metadata.Count} entries");
        int kw = r.metadata.Count == 0 ? 0 : Math.Min(48, r.metadata.Keys.Max(k => k.Length));
        foreach (var (k, v) in r.metadata) Console.WriteLine($"  {k.PadRight(kw)}  {v}");
        Console.WriteLine($"tensors   {r.tensors.Count}, {Bytes(r.total_bytes)}");
        if (r.tensors.Count == 0) return;
        int nw = Math.Min(64, r.tensors.Max(t => t.name.Length));
        int tw = Math.Max(5, r.tensors.Max(t => t.dtype.Length));
        int sw = Math.Max(5, r.tensors.Max(t => Shape(t.shape).Length));
        Console.WriteLine($"  {"name".PadRight(nw)}  {"dtype".PadRight(tw)}  {"shape".PadRight(sw)}  {"offset",14}  {"bytes",12}");
        foreach (var t in r.tensors)
            Console.WriteLine($"  {t.name.PadRight(nw)}  {t.dtype.PadRight(tw)}  {Shape(t.shape).PadRight(sw)}  {t.offset,14}  {t.bytes,12}{(t.file is null ? "" : "  " + t.file)}{(t.strides is null ? "" : "  strides " + Shape(t.strides) + " (not contiguous: not loadable)")}");
    }

    private static string Shape(long[] dims) => "[" + string.Join(", ", dims) + "]";

    /// <summary>Runs a command body; a bad file or argument prints one line to stderr and exits 1, not a stack trace.</summary>
    internal static int Guard(string verb, Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is TesseraException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"tessera {verb}: {e.Message}");
            return 1;
        }
    }

    internal static string Bytes(long b) => b >= 1 << 30 ? $"{b / (double)(1 << 30):F2} GiB" : b >= 1 << 20 ? $"{b / (double)(1 << 20):F2} MiB" : b >= 1 << 10 ? $"{b / 1024.0:F1} KiB" : $"{b} B";
}

#pragma warning disable IDE1006 // JSON field names are snake_case keys
/// <summary>What <c>tessera inspect --json</c> prints.</summary>
internal sealed record InspectReport(string file, string format, Dictionary<string, string> details,
    Dictionary<string, string> metadata, List<InspectTensor> tensors, long total_bytes);

/// <summary>One tensor of <see cref="InspectReport"/>; <c>offset</c> is from the start of the file (of <c>file</c>, for a shard);
/// <c>strides</c> only for a .pth tensor saved as a non-contiguous view (<c>bytes</c> is then the span it covers).</summary>
internal sealed record InspectTensor(string name, string dtype, long[] shape, long offset, long bytes,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? file,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long[]? strides = null);
#pragma warning restore IDE1006

/// <summary>Source-generated JSON (NativeAOT-safe: no reflection).</summary>
[JsonSerializable(typeof(InspectReport))]
internal sealed partial class InspectJsonContext : JsonSerializerContext;
