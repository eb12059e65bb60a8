using Tessera.Models.Generation.Sampling;

namespace Tessera.Models.Tests.Generation;

/// <summary>Stop strings on streamed text: found across piece boundaries, never output, text held back only while it
/// could still start a stop string.</summary>
public sealed class StopStringTests
{
    private static (string Text, string? Matched) Run(string[] stops, params string[] pieces)
    {
        var m = new StopStringMatcher(stops);
        string text = string.Concat(pieces.Select(m.Push)) + m.Flush();
        return (text, m.Matched);
    }

    [Fact]
    public void A_stop_string_split_over_pieces_is_found_and_not_output()
    {
        Assert.Equal(("Hello wor", "\nUser:"), Run(["\nUser:"], "Hel", "lo", " wor", "\n", "Us", "er", ":", " more"));
        Assert.Equal(("ab", "STOP"), Run(["STOP"], "ab", "S", "T", "OP", "cd"));
        Assert.Equal(("x", "STOP"), Run(["STOP"], "xSTOPy"));
    }

    [Fact]
    public void Text_is_held_only_while_it_can_still_become_a_stop_string()
    {
        var m = new StopStringMatcher(["</end>"]);
        Assert.Equal("a", m.Push("a</"));
        Assert.Equal("", m.Push("en"));
        Assert.Equal("</enX", m.Push("X"));   // the held text turned out not to be a stop string
        Assert.Equal("b", m.Push("b<"));      // "<" may start "</end>"
        Assert.Equal("<", m.Flush());
    }

    [Fact]
    public void A_false_start_is_released_and_the_earliest_stop_wins()
    {
        Assert.Equal(("aa", "ab"), Run(["ab"], "a", "a", "a", "b"));
        Assert.Equal(("1", "23"), Run(["345", "23"], "12", "345"));
        Assert.Equal(("no stop here: STO", null), Run(["STOP"], "no stop here: ", "STO"));
    }

    [Fact]
    public void Nothing_is_output_after_a_match()
    {
        var m = new StopStringMatcher(["."]);
        Assert.Equal("one", m.Push("one. two"));
        Assert.Equal("", m.Push("three"));
        Assert.Equal("", m.Flush());
    }
}
