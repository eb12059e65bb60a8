using System.Text;

namespace Tessera.Formats.Tests.Tokenizers;

/// <summary>llama.cpp's tokenizer test cases (<c>models/ggml-vocab-*.gguf.inp/.out</c>), read in place from
/// ../shared/models/tokenizers/llama.cpp. The .inp holds the inputs, each followed by a line
/// <c>__ggml_vocab_test__</c>; the .out one line of ids per input, made by Hugging Face's tokenizer with
/// add_special_tokens=False (test-tokenizer-0 compares llama_tokenize(add_special: false, parse_special: false)).</summary>
internal static class LlamaCppVocabCases
{
    public const string Folder = "tokenizers/llama.cpp";

    /// <summary>Every vocabulary name that has a .inp/.out pair in llama.cpp's models folder at the pinned commit.</summary>
    public static readonly string[] Names =
    [
        "bert-bge", "chameleon", "command-r", "deepseek-coder", "deepseek-llm", "deepseek-r1-qwen", "falcon", "gpt-2",
        "llama-bpe", "llama-spm", "mpt", "phi-3", "qwen2", "refact", "roberta-bpe", "starcoder",
    ];

    public static string? Path(string file) => WeightBuilderRenameTests.SharedModel($"{Folder}/{file}");

    /// <summary>The (input bytes, expected ids) pairs of one vocabulary.</summary>
    public static List<(byte[] Input, int[] Expected)> Read(string inpPath, string outPath)
    {
        byte[] raw = File.ReadAllBytes(inpPath);
        byte[] sep = Encoding.UTF8.GetBytes("\n__ggml_vocab_test__\n");
        var inputs = new List<byte[]>();
        int pos = 0;
        while (pos < raw.Length)
        {
            int next = raw.AsSpan(pos).IndexOf(sep);
            if (next < 0) { inputs.Add(raw[pos..]); break; }
            inputs.Add(raw[pos..(pos + next)]);
            pos += next + sep.Length;
        }
        var outputs = File.ReadAllLines(outPath)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray()).ToList();
        if (inputs.Count != outputs.Count) throw new InvalidDataException($"{inpPath}: {inputs.Count} inputs but {outputs.Count} output lines");
        return [.. inputs.Zip(outputs)];
    }
}
