using Tessera.Bench.DocPages;

namespace Tessera.Bench;

/// <summary>`peer ocr-doc --self-test`: checks the benchmark's own parts that need no model and no external tool
/// (the score's normalisation and order sensitivity, the HTML truth, the drawn layout's truth order and escaping, the
/// bare --flag), so a change to them that would silently skew the figures fails here first. Exit code 1 on a failure.</summary>
internal static class PeerOcrDocSelfTest
{
    public static int Run()
    {
        var failures = new List<string>();
        int checks = 0;
        void Check(string what, bool ok)
        {
            checks++;
            if (!ok) failures.Add(what);
        }

        Check("white space runs become one space, ends trimmed", PeerOcrDocScore.Normalize("  a\t b\n\n c \f") == "a b c");
        Check("NFKC folds full-width punctuation", PeerOcrDocScore.Normalize("Ａ\uFF0C1") == "A,1");
        Check("identical text scores 0", PeerOcrDocScore.Cer("ab cd", "ab\ncd") == 0);
        Check("a dropped space counts", Math.Abs(PeerOcrDocScore.Cer("a b", "ab") - 1.0 / 3) < 1e-12);
        // 8 edits in 24 characters, counted independently (a plain Python Levenshtein).
        Check("columns read in the wrong order cost", Math.Abs(PeerOcrDocScore.Cer("left column right column", "right column left column") - 8.0 / 24) < 1e-12);
        Check("nothing read scores 1", PeerOcrDocScore.Cer("abc", "") == 1);

        const string html = "<!DOCTYPE html><html><head><title>no</title><style>p{margin:0}</style></head><body>\n"
            + "<h1>T&amp;C</h1><p>a <b>bo</b>ld</p><div class=\"cols\"><p>left</p><p>right</p></div>"
            + "<table><tr><th>Label</th><td>Value</td></tr></table><p>x<br>y</p></body></html>";
        Check("HTML truth is the body's text in DOM order", HtmlPages.TruthOf(html) == "T&C a bold left right Label Value x y");

        var page = Stack.Down(5, new Text("title", 100, "F", 10),
            Stack.Row(10, Stack.Down(0, new Text("l1", 40, "F", 10), new Text("l2", 40, "F", 10)), new Text("r", 40, "F", 10, "East")));
        Check("drawn truth: title, left column, right column", string.Join(" ", page.Texts()) == "title l1 l2 r");
        var argv = new Text("5% \\n", 50, "F", 10).Argv().ToList();
        Check("caption text escapes % and backslash", argv.Contains("caption:5%% \\\\n"));
        Check("every ( has its )", page.Argv().Count(a => a == "(") == page.Argv().Count(a => a == ")"));

        var args = new Args(["--json", "--pages", "3", "--show"]);
        Check("a bare --flag is 1", args.Int("json", 0) == 1 && args.Int("pages", 0) == 3 && args.Int("show", 0) == 1);

        foreach (var f in failures) Console.Error.WriteLine($"ocr-doc self-test FAILED: {f}");
        if (failures.Count == 0) Console.Error.WriteLine($"ocr-doc self-test: {checks} checks passed");
        return failures.Count == 0 ? 0 : 1;
    }
}
