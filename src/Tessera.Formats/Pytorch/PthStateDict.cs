using System.Globalization;

namespace Tessera.Formats.Pytorch;

/// <summary>Flattens what a checkpoint's pickle built into tensor names and metadata: nested dicts join their keys
/// with dots (<c>{"model": {"x.weight": t}}</c> gives <c>model.x.weight</c>), lists and tuples of tensors their
/// indices; ints, floats, strings, bools and lists of them become metadata strings under their flattened name; other
/// values (a bare storage, an allow-listed class) are skipped. The walk is bounded in depth and in entries, so a memo
/// that shares or nests containers in a cycle cannot make it run away.</summary>
internal static class PthStateDict
{
    /// <summary>The deepest nesting of containers accepted.</summary>
    public const int MaxDepth = 32;

    /// <summary>The most values visited.</summary>
    public const int MaxEntries = 1 << 20;

    /// <summary>The tensors (in pickle order) and metadata of <paramref name="root"/>, which must be a dict.</summary>
    public static (List<(string Name, PthTensorView View)> Tensors, Dictionary<string, string> Metadata) Flatten(string file, object? root)
    {
        if (root is not PyDict dict)
            throw new WeightFormatException(file, null, $"data.pkl holds a {PickleGlobals.Describe(root)}, not a dict of tensors (a state dict)");
        var walk = new Walk(file);
        walk.Visit(dict, "", 0);
        return (walk.Tensors, walk.Metadata);
    }

    private sealed class Walk(string file)
    {
        private readonly HashSet<string> _names = [];
        private int _visited;

        public List<(string, PthTensorView)> Tensors { get; } = [];

        public Dictionary<string, string> Metadata { get; } = [];

        public void Visit(object? value, string name, int depth)
        {
            Count(1);
            if (depth > MaxDepth) throw new WeightFormatException(file, name, $"containers nested deeper than {MaxDepth} (a cycle?)");
            switch (value)
            {
                case PthTensorView t:
                    Claim(name);
                    Tensors.Add((name, t));
                    break;
                case PyDict d:
                    foreach (var (k, v) in d.Items) Visit(v, Join(name, Key(k, name)), depth + 1);
                    break;
                case PyList or PyTuple:
                    var items = value is PyList l ? l.ToArray() : ((PyTuple)value).Items;
                    Count(items.Length); // a shared list, visited again and again, counts its items each time
                    if (items.All(IsScalar)) Meta(name, "[" + string.Join(", ", items.Select(Repr)) + "]");
                    else for (int i = 0; i < items.Length; i++) Visit(items[i], Join(name, i.ToString(CultureInfo.InvariantCulture)), depth + 1);
                    break;
                case var s when IsScalar(s):
                    Meta(name, Repr(s));
                    break;
                // bytes, a bare storage, an allow-listed global as a value: nothing a model loads
            }
        }

        private void Count(int n)
        {
            _visited += n;
            if (_visited > MaxEntries) throw new WeightFormatException(file, null, $"data.pkl holds more than {MaxEntries} values (shared or cyclic containers?)");
        }

        private void Meta(string name, string text)
        {
            Claim(name);
            Metadata[name] = text.Length > 4096 ? text[..4096] + "..." : text;
        }

        private void Claim(string name)
        {
            if (!_names.Add(name)) throw new WeightFormatException(file, name, "two entries of the checkpoint flatten to this name");
        }

        private string Key(object? k, string parent) => k switch
        {
            string s => s,
            long n => n.ToString(CultureInfo.InvariantCulture),
            _ => throw new WeightFormatException(file, parent.Length == 0 ? null : parent, $"a dict key is a {PickleGlobals.Describe(k)}, not a string or an int"),
        };

        private static string Join(string prefix, string key) => prefix.Length == 0 ? key : prefix + "." + key;
    }

    private static bool IsScalar(object? v) => v is null or bool or long or double or string;

    private static string Repr(object? v) => v switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        long n => n.ToString(CultureInfo.InvariantCulture),
        double x => x.ToString("R", CultureInfo.InvariantCulture),
        string s => s,
        _ => PickleGlobals.Describe(v),
    };
}
