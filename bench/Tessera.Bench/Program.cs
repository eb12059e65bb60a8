using BenchmarkDotNet.Running;

namespace Tessera.Bench;

/// <summary>Dispatcher. `bdn ...` runs BenchmarkDotNet suites (e.g. `bdn --filter *Gemm*`); `peer &lt;suite&gt; ...`
/// runs one side-by-side comparison with a peer engine, printing JSON lines. Each suite lives in its own file;
/// add a peer suite by adding one line to <see cref="PeerSuites"/>.</summary>
public static class Program
{
    private static readonly Dictionary<string, Func<Args, int>> PeerSuites = new()
    {
        ["gemm"] = PeerGemm.Run,
        ["attention"] = PeerAttention.Run,
        ["qmatmul"] = PeerQMatMul.Run,
        ["ppocr-rec"] = PeerPpOcrRec.Run,
        ["ocr-cer"] = PeerOcrCer.Run,
        ["ocr-page"] = PeerOcrPage.Run,
        ["ocr-doc"] = PeerOcrDoc.Run,
        ["ppocr-det"] = PeerPpOcrDet.Run,
        ["smallops"] = SmallOpsProbe.Run,
        ["lstm"] = PeerLstm.Run,
        ["llama"] = PeerLlama.Run,
        ["constrained-decode"] = ConstrainedDecode.Run,
        ["batch-decode"] = BatchDecode.Run,
        ["vit"] = PeerVit.Run,
        ["decode-attention"] = DecodeAttentionProbe.Run,
        ["dit"] = PeerDit.Run,

        ["vae-decode"] = PeerVaeDecoder.Run,
        ["qpanel"] = QPanelProbe.Run,
    };

    public static int Main(string[] args)
    {
        if (args.Length >= 1 && args[0] == "bdn")
        {
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args[1..]);
            return 0;
        }
        if (args.Length >= 2 && args[0] == "peer" && PeerSuites.TryGetValue(args[1], out var suite))
            return suite(new Args(args[2..]));
        Console.Error.WriteLine("usage: bdn [BenchmarkDotNet args] | peer <" + string.Join("|", PeerSuites.Keys) + "> [--name value ...]");
        return 2;
    }
}

/// <summary>`--name value` options of a peer suite; a bare `--name` is "1".</summary>
public sealed class Args
{
    private readonly Dictionary<string, string> _values = new();

    public Args(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"expected --name value, got '{args[i]}'");
            // A flag without a value (last, or followed by another --name) is "1", so `--json` works as elsewhere.
            bool flag = i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal);
            _values[args[i][2..]] = flag ? "1" : args[++i];
        }
    }

    public int Int(string name, int fallback) =>
        !_values.TryGetValue(name, out var v) ? fallback
        : int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int n) ? n
        : throw new ArgumentException($"--{name} takes an integer, got '{v}'");

    public string Str(string name, string fallback) => _values.GetValueOrDefault(name, fallback);
}
