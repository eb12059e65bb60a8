namespace Tessera.Models.Vision;

/// <summary>Maps a config's <c>hidden_act</c> (transformers' ACT2FN names) to the engine's activation.</summary>
public static class HiddenActivation
{
    /// <summary>"gelu" (exact), "quick_gelu", "gelu_pytorch_tanh" / "gelu_new" / "gelu_fast" (tanh), "silu" / "swish",
    /// "relu"; anything else is an error naming the config key and the value.</summary>
    public static Activation Parse(string name, string key = "hidden_act") => name switch
    {
        "gelu" => Activation.Gelu,
        "quick_gelu" => Activation.QuickGelu,
        "gelu_pytorch_tanh" or "gelu_new" or "gelu_fast" => Activation.GeluTanh,
        "silu" or "swish" => Activation.Silu,
        "relu" => Activation.Relu,
        _ => throw new TesseraException($"{key} '{name}' is not supported (gelu, quick_gelu, gelu_pytorch_tanh, gelu_new, silu, relu)"),
    };
}
