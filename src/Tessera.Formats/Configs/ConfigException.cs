namespace Tessera.Formats.Configs;

/// <summary>A configuration file that cannot be read as the record asked for: not JSON, a required key missing, a
/// value of the wrong type, or values that cannot describe a model. The message names the file, the key and the
/// problem.</summary>
public sealed class ConfigException : TesseraException
{
    /// <summary>Creates the exception for <paramref name="file"/> (and <paramref name="key"/>, a dotted path, when the
    /// problem is in one value).</summary>
    public ConfigException(string file, string? key, string problem, Exception? inner = null)
        : base(key is null ? $"{file}: {problem}" : $"{file}: key '{key}' {problem}", inner!)
    {
        File = file;
        Key = key;
        Problem = problem;
    }

    /// <summary>The configuration file.</summary>
    public string File { get; }

    /// <summary>The key concerned as a dotted path ("vision_config.hidden_size"), or null.</summary>
    public string? Key { get; }

    /// <summary>What is wrong, without the file and key.</summary>
    public string Problem { get; }
}
