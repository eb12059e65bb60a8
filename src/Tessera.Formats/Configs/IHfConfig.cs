namespace Tessera.Formats.Configs;

/// <summary>A record that mirrors a Hugging Face JSON configuration file, loadable with <see cref="HfConfig.Load{T}"/>.</summary>
/// <typeparam name="TSelf">The record itself.</typeparam>
public interface IHfConfig<TSelf> where TSelf : class, IHfConfig<TSelf>
{
    /// <summary>The file's name in a model directory ("config.json", "preprocessor_config.json").</summary>
    static abstract string FileName { get; }

    /// <summary>The record with the defaults that depend on other keys filled in (transformers fills them in its
    /// constructors or per processor class); the record itself when there are none.</summary>
    TSelf Resolved() => (TSelf)this;

    /// <summary>Values that parsed but cannot describe a model (a zero head count, a hidden size the heads do not
    /// divide), as (key, problem); none when the record is sound.</summary>
    IEnumerable<(string Key, string Problem)> Problems() => [];
}
