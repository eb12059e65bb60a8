namespace Tessera.Formats.Gguf;

/// <summary>Typed reads of a GGUF file's metadata: <c>gguf.GetString("general.architecture")</c>,
/// <c>gguf.GetArch&lt;uint&gt;("block_count")</c> (the key <c>{general.architecture}.block_count</c>), arrays, and
/// <c>TryGet</c> forms. Integers convert between widths when the value fits (writers differ: some store
/// <c>block_count</c> as uint32, some as int32); floats accept any number; strings and bools only themselves. A missing
/// key or a value of the wrong type throws <see cref="WeightFormatException"/> naming the file, the key, what it holds
/// and what was expected ("metadata key 'llama.block_count' is a string, expected an unsigned integer").
/// <c>TryGet</c> returns false only for a missing key: a key that is present with the wrong type is still an error.</summary>
public static class GgufMetadata
{
    /// <summary><c>general.architecture</c> ("llama", "qwen2", "clip", ...).</summary>
    public static string Architecture(this GgufFile gguf) => gguf.GetString("general.architecture");

    /// <summary>The architecture-scoped key: <c>ArchKey("block_count")</c> is "llama.block_count" in a LLaMA file.</summary>
    public static string ArchKey(this GgufFile gguf, string suffix) => gguf.Architecture() + "." + suffix;

    /// <summary>The raw value of <paramref name="key"/>; throws naming the key (and the nearest keys) when absent.</summary>
    public static GgufValue GetValue(this GgufFile gguf, string key)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        if (gguf.Values.TryGetValue(key, out var v)) return v;
        var near = NearNames.Find(key, gguf.Keys);
        string hint = near.Count > 0 ? $"; keys like it: {string.Join(", ", near.Select(k => $"'{k}'"))}" : "";
        throw new WeightFormatException(gguf.Path, null, $"metadata key '{key}' is missing{hint}");
    }

    /// <summary>The value of <paramref name="key"/> as <typeparamref name="T"/>: string, bool, float, double, byte,
    /// sbyte, short, ushort, int, uint, long, ulong, or an array of one of those.</summary>
    public static T Get<T>(this GgufFile gguf, string key) => GgufValueConversion.To<T>(gguf.GetValue(key), key, gguf.Path);

    /// <summary>False when <paramref name="key"/> is absent; the converted value when present (a wrong type throws).</summary>
    public static bool TryGet<T>(this GgufFile gguf, string key, out T value)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        if (!gguf.Values.TryGetValue(key, out var v))
        {
            value = default!;
            return false;
        }
        value = GgufValueConversion.To<T>(v, key, gguf.Path);
        return true;
    }

    /// <summary>The value of <paramref name="key"/>, or <paramref name="fallback"/> when absent (a wrong type throws).</summary>
    public static T GetOrDefault<T>(this GgufFile gguf, string key, T fallback) => gguf.TryGet<T>(key, out var v) ? v : fallback;

    /// <summary><see cref="Get{T}"/> of <c>{general.architecture}.{suffix}</c>.</summary>
    public static T GetArch<T>(this GgufFile gguf, string suffix) => gguf.Get<T>(gguf.ArchKey(suffix));

    /// <summary><see cref="TryGet{T}"/> of <c>{general.architecture}.{suffix}</c>.</summary>
    public static bool TryGetArch<T>(this GgufFile gguf, string suffix, out T value) => gguf.TryGet(gguf.ArchKey(suffix), out value);

    /// <summary><see cref="GetOrDefault{T}"/> of <c>{general.architecture}.{suffix}</c>.</summary>
    public static T GetArchOrDefault<T>(this GgufFile gguf, string suffix, T fallback) => gguf.GetOrDefault(gguf.ArchKey(suffix), fallback);

    /// <summary>A string value.</summary>
    public static string GetString(this GgufFile gguf, string key) => gguf.Get<string>(key);

    /// <summary>An unsigned integer value that fits in 32 bits.</summary>
    public static uint GetUInt32(this GgufFile gguf, string key) => gguf.Get<uint>(key);

    /// <summary>An integer value that fits in an int.</summary>
    public static int GetInt(this GgufFile gguf, string key) => gguf.Get<int>(key);

    /// <summary>An integer value that fits in a long.</summary>
    public static long GetInt64(this GgufFile gguf, string key) => gguf.Get<long>(key);

    /// <summary>A number as a float.</summary>
    public static float GetFloat(this GgufFile gguf, string key) => gguf.Get<float>(key);

    /// <summary>A bool value.</summary>
    public static bool GetBool(this GgufFile gguf, string key) => gguf.Get<bool>(key);

    /// <summary>An array whose elements convert to <typeparamref name="T"/> (a new array).</summary>
    public static T[] GetArray<T>(this GgufFile gguf, string key) => gguf.Get<T[]>(key);

    /// <summary>A string value, when present.</summary>
    public static bool TryGetString(this GgufFile gguf, string key, out string value) => gguf.TryGet(key, out value);

    /// <summary>An unsigned 32-bit value, when present.</summary>
    public static bool TryGetUInt32(this GgufFile gguf, string key, out uint value) => gguf.TryGet(key, out value);

    /// <summary>An int value, when present.</summary>
    public static bool TryGetInt(this GgufFile gguf, string key, out int value) => gguf.TryGet(key, out value);

    /// <summary>A float value, when present.</summary>
    public static bool TryGetFloat(this GgufFile gguf, string key, out float value) => gguf.TryGet(key, out value);

    /// <summary>A bool value, when present.</summary>
    public static bool TryGetBool(this GgufFile gguf, string key, out bool value) => gguf.TryGet(key, out value);

    /// <summary>An array, when present.</summary>
    public static bool TryGetArray<T>(this GgufFile gguf, string key, out T[] value) => gguf.TryGet(key, out value);
}
