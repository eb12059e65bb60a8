using Tessera.Formats.Gguf;
using Tessera.Formats.Onnx;
using Tessera.Formats.Pytorch;
using Tessera.Formats.Safetensors;

namespace Tessera.Formats;

/// <summary>Opens any supported weight file as an <see cref="IWeightSource"/>, choosing the format by its first bytes
/// (and by name for an index or an .onnx file).</summary>
public static class WeightFile
{
    /// <summary>Opens <paramref name="path"/>: a GGUF file, a safetensors file, a sharded checkpoint's
    /// <c>*.safetensors.index.json</c> (or the directory holding <c>model.safetensors.index.json</c>,
    /// <c>model.safetensors</c> or, failing both, <c>pytorch_model.bin</c>), an .onnx model, or a PyTorch checkpoint (<c>.pth</c>, <c>.pt</c>, <c>.bin</c>, <c>.ckpt</c>,
    /// read as data: see <see cref="PthFile"/>). Throws <see cref="WeightFormatException"/> for anything else.</summary>
    public static IWeightSource Open(string path)
    {
        if (Directory.Exists(path))
        {
            // Safetensors first, as Hugging Face's loaders prefer it when a repository has both.
            foreach (var candidate in new[] { "model.safetensors.index.json", "model.safetensors", "pytorch_model.bin" })
            {
                string p = Path.Combine(path, candidate);
                if (File.Exists(p)) return Open(p);
            }
            throw new WeightFormatException(path, null, "a directory without model.safetensors.index.json, model.safetensors or pytorch_model.bin");
        }
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return ShardedSafetensors.Open(path);
        return Detect(path) switch
        {
            "gguf" => GgufFile.Open(path),
            "safetensors" => SafetensorsFile.Open(path),
            "onnx" => OnnxFile.Open(path),
            "pth" => PthFile.Open(path),
            _ => throw new WeightFormatException(path, null, "not a GGUF, safetensors, ONNX or PyTorch file (unrecognised first bytes and extension)"),
        };
    }

    /// <summary>"gguf", "safetensors", "onnx", "pth", or null when the file is none of them.</summary>
    public static string? Detect(string path)
    {
        // Enough for a zip archive's first local header and its name (torch.save writes "{archive}/data.pkl" first).
        Span<byte> head = stackalloc byte[30 + 256];
        int n;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..n];
        if (n >= 4 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(head) == GgufFile.Magic) return "gguf";
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) return "onnx";
        bool torchName = TorchExtensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));
        if (ZipDirectory.HasZipMagic(head) && (torchName || FirstZipNameIsDataPkl(head))) return "pth";
        if (n >= 9 && head[8] == (byte)'{') return "safetensors";
        // A legacy pickle stream (PROTO 2 then torch's magic number): PthFile refuses it by name. After the safetensors
        // check, since a header length of 0x280 begins with the same two bytes.
        if (n >= 2 && head[0] == 0x80 && head[1] <= 5 && torchName) return "pth";
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return "safetensors";
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return "gguf";
        return null;
    }

    private static readonly string[] TorchExtensions = [".pth", ".pt", ".bin", ".ckpt"];

    private static bool FirstZipNameIsDataPkl(ReadOnlySpan<byte> head)
    {
        if (head.Length < 30) return false;
        int len = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(head[26..]);
        return len <= head.Length - 30 && head.Slice(30, len).EndsWith("data.pkl"u8);
    }
}
