using Tessera.Models.Generation.Constraints;

namespace Tessera.Models.Tests.Generation;

/// <summary>GBNF grammars accept and reject strings as llama.cpp's grammar engine does: sequences, alternatives, groups,
/// * + ? {m,n}, character classes with ranges and negation, escapes, literals, any-char, comments; prefixes of valid
/// documents are live, others dead; malformed grammars give errors that name the problem.</summary>
public sealed class GbnfGrammarTests
{
    private static void Check(string gbnf, string[] accept, string[] reject, string[]? prefixes = null)
    {
        var g = GrammarConstraint.FromGbnf(gbnf);
        foreach (string s in accept) Assert.True(g.Accepts(s), $"should accept '{s}'");
        foreach (string s in reject) Assert.False(g.Accepts(s), $"should reject '{s}'");
        foreach (string s in prefixes ?? []) Assert.True(g.AcceptsPrefix(s), $"'{s}' should be a live prefix");
    }

    [Fact]
    public void Sequences_alternatives_and_groups()
    {
        Check("""
            root ::= greeting " " name ("!" | "?")
            greeting ::= "hello" | "hi"
            name ::= "bob" | "alice"
            """,
            ["hello bob!", "hi alice?", "hello alice!"],
            ["hello bob", "hey bob!", "hi  bob!", "hello bob!!", ""],
            ["hel", "hi ", "hi al"]);
        Assert.False(GrammarConstraint.FromGbnf("root ::= \"ab\"").AcceptsPrefix("ac"));
    }

    [Fact]
    public void Repetitions_star_plus_optional_and_counts()
    {
        Check("root ::= \"a\"* \"b\"+ \"c\"?", ["b", "aab", "abbbc", "bc"], ["", "a", "c", "abcc", "ba"]);
        Check("root ::= [0-9]{2,4}", ["12", "123", "1234"], ["1", "12345", "1a"]);
        Check("root ::= \"x\"{3}", ["xxx"], ["xx", "xxxx"]);
        Check("root ::= \"x\"{2,} \"y\"", ["xxy", "xxxxxxxy"], ["xy", "y"]);
        Check("root ::= (\"ab\" | \"c\"){0,2} \".\"", [".", "ab.", "cab.", "cc."], ["abab ab.", "ccc.", "a."]);
    }

    [Fact]
    public void Character_classes_ranges_negation_escapes_and_any()
    {
        Check("root ::= [a-cx] [^0-9\\n] .", ["a!z", "xxx", "cé😀"], ["d!z", "a1z", "a\nz", "ab"]);
        Check("root ::= \"\\x41\\u00e9\\t\\\"\\\\\" [\\]\\[] \"\\U0001F600\"", ["Aé\t\"\\]😀", "Aé\t\"\\[😀"], ["Ae\t\"\\]😀"]);
        Check("root ::= [^\"]* \"\\\"\"  # a comment\n", ["abc\"", "\""], ["a\"b\""]);
    }

    [Fact]
    public void Recursion_nests()
    {
        Check("""
            root ::= list
            list ::= "[" (item ("," item)*)? "]"
            item ::= [0-9]+ | list
            """,
            ["[]", "[1,22]", "[[1],[],[[3]]]"],
            ["[", "[1,]", "[[1]", "[1]]"],
            ["[[[", "[1,[2"]);
    }

    [Fact]
    public void Multibyte_text_is_matched_per_code_point()
    {
        var g = GrammarConstraint.FromGbnf("root ::= [α-ω]+");
        Assert.True(g.Accepts("αβγ"));
        Assert.False(g.Accepts("αbγ"));
        Assert.True(g.AcceptsPrefix("αβ"));
    }

    [Theory]
    [InlineData("root ::= foo", "'foo' is used but never defined")]
    [InlineData("start ::= \"a\"", "no 'root' rule")]
    [InlineData("root ::= \"a", "unterminated string")]
    [InlineData("root ::= [a-z", "unterminated character class")]
    [InlineData("root ::= (\"a\"", "expected ')'")]
    [InlineData("root ::= * \"a\"", "no item before it")]
    [InlineData("root ::= \"a\"{3,1}", "below the minimum")]
    [InlineData("root ::= \"\\q\"", "unknown escape")]
    [InlineData("root ::= root \"a\" | \"b\"", "left-recursive")]
    [InlineData("root \"a\"", "expected '::='")]
    [InlineData("root ::= \"a\"\nroot ::= \"b\"", "defined twice")]
    [InlineData("root ::= \"a\"{99999}", "above 10000")]
    public void Bad_grammars_name_the_problem(string gbnf, string message)
    {
        var e = Assert.Throws<TesseraException>(() => GrammarConstraint.FromGbnf(gbnf));
        Assert.Contains(message, e.Message);
    }
}
