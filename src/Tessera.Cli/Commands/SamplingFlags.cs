using System.CommandLine;
using System.Globalization;
using Tessera.Models.Generation;
using Tessera.Models.Generation.Constraints;

namespace Tessera.Cli.Commands;

/// <summary>The sampling-chain, stop-string and constrained-output flags of <c>tessera generate</c> (llama.cpp's names),
/// and how they fill <see cref="GenerationOptions"/>. Each default switches its stage off.</summary>
internal sealed class SamplingFlags
{
    private readonly Option<int> _topK = new("--top-k") { Description = "keep the k most likely tokens (0: off)", DefaultValueFactory = _ => 0 };
    private readonly Option<float> _topP = new("--top-p") { Description = "nucleus sampling mass (1: off)", DefaultValueFactory = _ => 1f };
    private readonly Option<float> _minP = new("--min-p") { Description = "keep tokens at least this fraction as likely as the top one (0: off)", DefaultValueFactory = _ => 0f };
    private readonly Option<float> _typical = new("--typical") { Description = "locally typical sampling mass (1: off)", DefaultValueFactory = _ => 1f };
    private readonly Option<float> _repeat = new("--repeat-penalty") { Description = "repetition penalty over the last N tokens (1: off)", DefaultValueFactory = _ => 1f };
    private readonly Option<int> _lastN = new("--repeat-last-n") { Description = "the penalties' window in tokens (0: off, -1: the whole context)", DefaultValueFactory = _ => 64 };
    private readonly Option<float> _presence = new("--presence-penalty") { Description = "subtracted once from each token in the window (0: off)", DefaultValueFactory = _ => 0f };
    private readonly Option<float> _frequency = new("--frequency-penalty") { Description = "subtracted per occurrence in the window (0: off)", DefaultValueFactory = _ => 0f };
    private readonly Option<string[]> _stop = new("--stop") { Description = "end when the output contains TEXT (repeatable); the stop text is not printed", Arity = ArgumentArity.ZeroOrMore };
    private readonly Option<string[]> _bias = new("--logit-bias") { Description = "ID=BIAS added to the token's logit (repeatable; -inf bans it)", Arity = ArgumentArity.ZeroOrMore };
    private readonly Option<string?> _schema = new("--json-schema") { Description = "FILE: the output is JSON valid against this schema" };
    private readonly Option<string?> _grammar = new("--grammar") { Description = "FILE: the output follows this GBNF grammar (llama.cpp's syntax)" };

    public void AddTo(Command cmd)
    {
        foreach (var o in new Option[] { _topK, _topP, _minP, _typical, _repeat, _lastN, _presence, _frequency, _stop, _bias, _schema, _grammar })
            cmd.Options.Add(o);
    }

    public GenerationOptions Apply(ParseResult pr, GenerationOptions options)
    {
        string? schema = pr.GetValue(_schema), grammar = pr.GetValue(_grammar);
        if (schema is not null && grammar is not null) throw new TesseraException("--json-schema and --grammar cannot be used together");
        GrammarConstraint? constraint = null;
        if (schema is not null) constraint = GrammarConstraint.FromJsonSchema(ReadFile(schema, "--json-schema"));
        if (grammar is not null) constraint = GrammarConstraint.FromGbnf(ReadFile(grammar, "--grammar"));
        var bias = new Dictionary<int, float>();
        foreach (string item in pr.GetValue(_bias) ?? [])
        {
            var (id, value) = ParseBias(item);
            bias[id] = bias.GetValueOrDefault(id) + value;
        }
        return options with
        {
            TopK = pr.GetValue(_topK),
            TopP = pr.GetValue(_topP),
            MinP = pr.GetValue(_minP),
            Typical = pr.GetValue(_typical),
            RepeatPenalty = pr.GetValue(_repeat),
            RepeatLastN = pr.GetValue(_lastN),
            PresencePenalty = pr.GetValue(_presence),
            FrequencyPenalty = pr.GetValue(_frequency),
            StopStrings = pr.GetValue(_stop) ?? [],
            LogitBias = bias,
            Constraint = constraint,
        };
    }

    internal static (int Id, float Bias) ParseBias(string item)
    {
        int eq = item.IndexOf('=');
        if (eq <= 0 || !int.TryParse(item.AsSpan(0, eq), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            throw new TesseraException($"--logit-bias wants ID=BIAS (a token id, then a number or -inf), got '{item}'");
        string v = item[(eq + 1)..].Trim();
        if (v is "-inf" or "-infinity" or "-Infinity") return (id, float.NegativeInfinity);
        if (!float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out float b) || !float.IsFinite(b))
            throw new TesseraException($"--logit-bias wants ID=BIAS (a token id, then a number or -inf), got '{item}'");
        return (id, b);
    }

    private static string ReadFile(string path, string flag) =>
        File.Exists(path) ? File.ReadAllText(path) : throw new TesseraException($"{flag}: no such file '{path}'");
}
