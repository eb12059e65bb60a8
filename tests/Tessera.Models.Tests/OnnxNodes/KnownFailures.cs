namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>Node tests that map onto Tessera but do not match ONNX's expected outputs, each with the reason. The suite
/// fails when one of these starts passing (take it off the list) and when a test not listed here fails.</summary>
public static class KnownFailures
{
    /// <summary>Test directory name (with " (f32)" for a DOUBLE case narrowed to f32) -> why it fails.</summary>
    public static IReadOnlyDictionary<string, string> Reasons { get; } = new Dictionary<string, string>
    {
    };
}
