using System.Text.RegularExpressions;

namespace Tessera.Formats;

/// <summary>llama.cpp's GGUF tensor names for the LLaMA family and Hugging Face's, both ways
/// (<c>model.layers.{i}.self_attn.q_proj.weight</c> &lt;-&gt; <c>blk.{i}.attn_q.weight</c>), as
/// <c>convert_hf_to_gguf.py</c>'s tensor map writes them. Used through <see cref="WeightRenames.GgufLlama"/>.
///
/// Only names are mapped. llama.cpp's converter permutes the rows of the LLaMA q and k projections so that its RoPE
/// rotates adjacent pairs (GPT-J style) rather than Hugging Face's two halves: a model that reads a GGUF file's
/// q/k weights under Hugging Face names must apply RoPE to adjacent pairs.</summary>
public static partial class GgufLlamaNames
{
    // (Hugging Face name inside a layer, GGUF name inside a block), without the .weight/.bias suffix.
    private static readonly (string Hf, string Gguf)[] LayerNames =
    [
        ("self_attn.q_proj", "attn_q"),
        ("self_attn.k_proj", "attn_k"),
        ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"),
        ("input_layernorm", "attn_norm"),
        ("post_attention_layernorm", "ffn_norm"),
        ("mlp.gate_proj", "ffn_gate"),
        ("mlp.up_proj", "ffn_up"),
        ("mlp.down_proj", "ffn_down"),
    ];

    private static readonly (string Hf, string Gguf)[] ModelNames =
    [
        ("model.embed_tokens", "token_embd"),
        ("model.norm", "output_norm"),
        ("lm_head", "output"),
    ];

    [GeneratedRegex(@"^(?:model\.)?layers\.(\d+)\.(.+)\.(weight|bias)$", RegexOptions.CultureInvariant)]
    private static partial Regex HfLayer();

    [GeneratedRegex(@"^blk\.(\d+)\.(.+)\.(weight|bias)$", RegexOptions.CultureInvariant)]
    private static partial Regex GgufBlock();

    /// <summary>The GGUF name of a Hugging Face LLaMA tensor name (with or without the "model." prefix), or null.</summary>
    public static string? ToGguf(string hfName)
    {
        var m = HfLayer().Match(hfName);
        if (m.Success)
        {
            foreach (var (hf, gguf) in LayerNames)
                if (m.Groups[2].Value == hf) return $"blk.{m.Groups[1].Value}.{gguf}.{m.Groups[3].Value}";
            return null;
        }
        string name = hfName.StartsWith("embed_tokens.", StringComparison.Ordinal) || hfName.StartsWith("norm.", StringComparison.Ordinal)
            ? "model." + hfName : hfName;
        foreach (var (hf, gguf) in ModelNames)
            if (name.StartsWith(hf + ".", StringComparison.Ordinal)) return gguf + name[hf.Length..];
        return null;
    }

    /// <summary>The Hugging Face name (with "model.") of a GGUF LLaMA tensor name, or null.</summary>
    public static string? ToHuggingFace(string ggufName)
    {
        var m = GgufBlock().Match(ggufName);
        if (m.Success)
        {
            foreach (var (hf, gguf) in LayerNames)
                if (m.Groups[2].Value == gguf) return $"model.layers.{m.Groups[1].Value}.{hf}.{m.Groups[3].Value}";
            return null;
        }
        foreach (var (hf, gguf) in ModelNames)
            if (ggufName.StartsWith(gguf + ".", StringComparison.Ordinal)) return hf + ggufName[gguf.Length..];
        return null;
    }

    /// <summary>The rename rule: the other naming's name, when there is one.</summary>
    internal static IEnumerable<string> Rule(string name)
    {
        if (ToGguf(name) is { } g) yield return g;
        if (ToHuggingFace(name) is { } h) yield return h;
    }
}
