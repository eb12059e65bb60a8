using System.Text;
using Tessera.Formats.Gguf;
using Tessera.Formats.Llama2c;
using Tessera.Formats.Tokenizers;
using Tessera.Models;

namespace Tessera.Cli.Commands;

/// <summary>Opening a model and its tokenizer for the model commands: loading progress on stderr (only when stderr is a
/// terminal, never with --json), the tokenizer of a GGUF file, a Hugging Face directory or a llama2.c checkpoint
/// (tokenizer.bin beside it, or --tokenizer), and the prompt's text checked to be UTF-8.</summary>
internal static class ModelLoading
{
    /// <summary>Loads the model, showing progress on a terminal unless <paramref name="json"/>.</summary>
    public static Llama Open(IBackend backend, string model, bool json)
    {
        var progress = json || Console.IsErrorRedirected ? null : new TerminalProgress(Path.GetFileName(Path.TrimEndingDirectorySeparator(model)));
        try { return LlamaLoader.Open(backend, model, new LlamaLoadOptions { Progress = progress }); }
        finally { progress?.Finish(); }
    }

    /// <summary>The tokenizer of a GGUF file's metadata, a Hugging Face directory's tokenizer.json, or a llama2.c
    /// checkpoint's tokenizer.bin (<paramref name="tokenizer"/>, or the one beside the checkpoint).</summary>
    public static Tokenizer OpenTokenizer(string model, string? tokenizer = null)
    {
        if (Directory.Exists(model))
        {
            string json = Path.Combine(model, "tokenizer.json");
            if (!File.Exists(json)) throw new TesseraException($"{model}: the model directory has no tokenizer.json");
            return Tokenizer.FromHuggingFace(json);
        }
        if (!File.Exists(model)) throw new TesseraException($"{model}: no such file or directory");
        if (Formats.WeightFile.Detect(model) == "gguf")
        {
            using var gguf = GgufFile.Open(model);
            return Tokenizer.FromGguf(gguf);
        }
        if (model.EndsWith(".bin", StringComparison.OrdinalIgnoreCase))
        {
            string path = LlamaLoader.FindLlama2cTokenizer(model, tokenizer)
                ?? throw new TesseraException($"{model}: a llama2.c checkpoint needs its tokenizer: put tokenizer.bin beside it or pass --tokenizer FILE");
            using var checkpoint = Llama2cFile.Open(model);
            return Llama2cTokenizer.Open(path, checkpoint.Config.VocabSize);
        }
        throw new TesseraException($"{model}: not a GGUF file, a Hugging Face directory or a llama2.c .bin checkpoint");
    }

    /// <summary>Refuses a prompt that is not text: an unpaired UTF-16 surrogate, or (on Linux, where the runtime turns an
    /// argument's invalid UTF-8 into U+FFFD) an argument whose bytes are not UTF-8.</summary>
    public static void EnsureText(string prompt, string option)
    {
        for (int i = 0; i < prompt.Length; i++)
        {
            if (char.IsHighSurrogate(prompt[i]) && i + 1 < prompt.Length && char.IsLowSurrogate(prompt[i + 1])) { i++; continue; }
            if (char.IsSurrogate(prompt[i])) throw new TesseraException($"{option} holds an unpaired UTF-16 surrogate (U+{(int)prompt[i]:X4}) at index {i}: not text");
        }
        if (!prompt.Contains('\uFFFD') || !File.Exists("/proc/self/cmdline")) return;
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (var arg in SplitZero(File.ReadAllBytes("/proc/self/cmdline")))
        {
            if (Encoding.UTF8.GetString(arg) != prompt) continue;
            try { strict.GetString(arg); }
            catch (DecoderFallbackException e)
            {
                string at = e.BytesUnknown is { Length: > 0 } b ? $"byte 0x{b[0]:X2} at offset {e.Index}" : "an invalid sequence";
                throw new TesseraException($"{option} is not valid UTF-8 ({at}); pass the text in UTF-8");
            }
        }
    }

    private static IEnumerable<byte[]> SplitZero(byte[] data)
    {
        int start = 0;
        for (int i = 0; i <= data.Length; i++)
            if (i == data.Length || data[i] == 0)
            {
                if (i > start) yield return data[start..i];
                start = i + 1;
            }
    }

    /// <summary>"loading NAME: 42% (1.1 GiB of 2.6 GiB)" on one stderr line, redrawn at each whole percent.</summary>
    private sealed class TerminalProgress(string name) : IProgress<LoadProgress>
    {
        private int _shown = -1;
        private bool _drawn;

        public void Report(LoadProgress p)
        {
            if (p.Stage == "reading" && p.Total > 0)
            {
                int pct = (int)(100 * p.Done / p.Total);
                if (pct == _shown) return;
                _shown = pct;
                Console.Error.Write($"\rloading {name}: {pct,3}% ({LlamaMemoryEstimate.Size(p.Done)} of {LlamaMemoryEstimate.Size(p.Total)})");
                _drawn = true;
            }
            else if (p.Stage == "building")
            {
                Console.Error.Write($"\rloading {name}: building layers...{new string(' ', 24)}");
                _drawn = true;
            }
        }

        public void Finish()
        {
            if (_drawn) Console.Error.Write("\r" + new string(' ', 72 + name.Length) + "\r");
            _drawn = false;
        }
    }
}
