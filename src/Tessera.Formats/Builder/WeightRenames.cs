namespace Tessera.Formats;

/// <summary>Rules that map a name a model asks for to names a file may store it under: a checkpoint saved from a
/// DataParallel module ("module." in front), a Hugging Face model saved without its task head's "model." prefix or
/// with it, GGUF's names for Hugging Face's. The name as asked is always tried first, then each rule's candidates
/// in order.</summary>
public sealed class WeightRenames
{
    private readonly List<Func<string, IEnumerable<string>>> _rules;

    private WeightRenames(List<Func<string, IEnumerable<string>>> rules) => _rules = rules;

    /// <summary>No renames.</summary>
    public static WeightRenames None { get; } = new([]);

    /// <summary>"module." and "model." prefixes added or removed.</summary>
    public static WeightRenames CommonPrefixes { get; } = None.WithPrefixes("module.", "model.");

    /// <summary>The common prefixes plus llama.cpp's GGUF names for Hugging Face's LLaMA names and back
    /// (<see cref="GgufLlamaNames"/>): a model written with <c>model.layers.{i}.self_attn.q_proj.weight</c> loads a GGUF
    /// file's <c>blk.{i}.attn_q.weight</c>, and the other way round.</summary>
    public static WeightRenames GgufLlama { get; } = CommonPrefixes.WithGgufLlama();

    /// <summary>The candidates for a name, the name itself first.</summary>
    public IEnumerable<string> Candidates(string name)
    {
        yield return name;
        foreach (var rule in _rules)
            foreach (var c in rule(name))
                if (c != name) yield return c;
    }

    /// <summary>These rules plus a rule of one's own.</summary>
    public WeightRenames With(Func<string, IEnumerable<string>> rule) => new([.. _rules, rule]);

    /// <summary>These rules plus: each prefix removed when the name has it, added when it has not.</summary>
    public WeightRenames WithPrefixes(params string[] prefixes) => With(name =>
        prefixes.Select(p => name.StartsWith(p, StringComparison.Ordinal) ? name[p.Length..] : p + name));

    /// <summary>These rules plus the GGUF &lt;-&gt; Hugging Face LLaMA name map.</summary>
    public WeightRenames WithGgufLlama() => With(GgufLlamaNames.Rule);

    /// <summary>These rules plus plain substring replacements, applied together (<c>("self_attn.q_proj", "attn_q")</c>).</summary>
    public WeightRenames WithReplacements(params (string From, string To)[] pairs) => With(name =>
    {
        string r = name;
        foreach (var (from, to) in pairs) r = r.Replace(from, to, StringComparison.Ordinal);
        return [r];
    });
}
