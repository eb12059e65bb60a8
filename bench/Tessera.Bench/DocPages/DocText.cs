using System.Globalization;

namespace Tessera.Bench.DocPages;

/// <summary>Seeded English-like text for the document pages: sentences, names, addresses, dates, amounts. Only content:
/// each page source lays it out with its own constants. Real words (not random letters) so that neither engine's
/// language model is helped or hurt by gibberish; digits and punctuation because documents carry them.</summary>
internal sealed class DocText(int seed)
{
    private readonly Random _rng = new(seed);

    private static readonly string[] Nouns =
    [
        "account", "balance", "river", "window", "garden", "report", "station", "market", "signal", "number", "delivery",
        "engine", "paper", "office", "meeting", "budget", "bridge", "harbour", "library", "committee", "survey", "contract",
        "schedule", "village", "council", "valley", "customer", "invoice", "machine", "summary", "weather", "journey",
        "project", "system", "letter", "building", "season", "harvest", "network", "museum", "factory", "record",
    ];

    private static readonly string[] Verbs =
    [
        "opened", "closed", "reported", "measured", "approved", "delayed", "announced", "checked", "moved", "covered",
        "reached", "improved", "reduced", "replaced", "received", "followed", "described", "included", "prepared", "offered",
    ];

    private static readonly string[] Adjectives =
    [
        "new", "old", "small", "large", "quiet", "early", "late", "northern", "local", "public", "careful", "annual",
        "weekly", "final", "simple", "strong", "bright", "narrow", "common", "recent",
    ];

    private static readonly string[] Glue = ["the", "a", "of", "in", "on", "for", "with", "after", "before", "near", "and", "by"];

    private static readonly string[] FirstNames = ["Anna", "James", "Maria", "Peter", "Laura", "Thomas", "Sofia", "David", "Clara", "Martin", "Helen", "Oliver"];

    private static readonly string[] LastNames = ["Walker", "Fischer", "Moreau", "Jensen", "Costa", "Novak", "Bennett", "Lindqvist", "Hughes", "Romano", "Keller", "Brooks"];

    private static readonly string[] Streets = ["Mill Lane", "Station Road", "Harbour Street", "Oak Avenue", "King Street", "Bridge Road", "Park Terrace"];

    private static readonly string[] Towns = ["Bristol", "Leeds", "Norwich", "Exeter", "York", "Bath", "Chester", "Durham"];

    private static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    private static readonly string[] Goods = ["Coffee", "Bread", "Apples", "Milk", "Cheese", "Tea", "Rice", "Soap", "Butter", "Lemons", "Pasta", "Honey", "Eggs", "Juice"];

    public int Next(int min, int max) => _rng.Next(min, max);

    public T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(items.Count)];

    /// <summary>One sentence of 7 to 15 words, capitalised, with a number now and then and a final period.</summary>
    public string Sentence()
    {
        var words = new List<string>();
        int n = _rng.Next(7, 16);
        while (words.Count < n)
        {
            switch (_rng.Next(6))
            {
                case 0: words.Add(Pick(Adjectives)); words.Add(Pick(Nouns)); break;
                case 1: words.Add(Pick(Verbs)); break;
                case 2 when _rng.Next(3) == 0: words.Add(Number()); break;
                case 3 when words.Count > 3 && _rng.Next(4) == 0: words[^1] += ","; words.Add(Pick(Glue)); break;
                default: words.Add(Pick(Glue)); words.Add(Pick(Nouns)); break;
            }
        }
        words[0] = char.ToUpperInvariant(words[0][0]) + words[0][1..];
        return string.Join(" ", words).TrimEnd(',') + ".";
    }

    /// <summary>A paragraph of <paramref name="sentences"/> sentences.</summary>
    public string Paragraph(int sentences) => string.Join(" ", Enumerable.Range(0, sentences).Select(_ => Sentence()));

    /// <summary>A title of 3 to 5 capitalised words.</summary>
    public string Title() => string.Join(" ", Enumerable.Range(0, _rng.Next(3, 6)).Select(i =>
    {
        string w = i % 2 == 0 ? Pick(Adjectives) : Pick(Nouns);
        return char.ToUpperInvariant(w[0]) + w[1..];
    }));

    public string Name() => $"{Pick(FirstNames)} {Pick(LastNames)}";

    public string StreetLine() => $"{_rng.Next(1, 240)} {Pick(Streets)}";

    public string TownLine() => $"{Pick(Towns)} {(char)('A' + _rng.Next(26))}{(char)('A' + _rng.Next(26))}{_rng.Next(1, 20)} {_rng.Next(1, 10)}{(char)('A' + _rng.Next(26))}{(char)('A' + _rng.Next(26))}";

    public string Date() => $"{_rng.Next(1, 29)} {Pick(Months)} {_rng.Next(2019, 2031)}";

    public string Phone() => string.Create(CultureInfo.InvariantCulture, $"0{_rng.Next(100, 999)} {_rng.Next(100, 999)} {_rng.Next(1000, 9999)}");

    public string Good() => Pick(Goods);

    public string Word() => Pick(Nouns);

    /// <summary>An amount such as 12.50.</summary>
    public string Amount(int max = 100) => string.Create(CultureInfo.InvariantCulture, $"{_rng.Next(1, max)}.{_rng.Next(100):D2}");

    private string Number() => _rng.Next(4) switch
    {
        0 => _rng.Next(2, 99).ToString(CultureInfo.InvariantCulture),
        1 => _rng.Next(1000, 99999).ToString("N0", CultureInfo.InvariantCulture),
        2 => string.Create(CultureInfo.InvariantCulture, $"{_rng.Next(1, 100)}%"),
        _ => _rng.Next(1990, 2031).ToString(CultureInfo.InvariantCulture),
    };
}
