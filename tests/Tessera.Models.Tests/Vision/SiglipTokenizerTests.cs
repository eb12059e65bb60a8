using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Tessera.Formats.Tokenizers;
using Tessera.Models.Vision;

namespace Tessera.Models.Tests.Vision;

/// <summary>SigLIP's tokenizer from a <c>spiece.model</c> the test writes (a SentencePiece ModelProto: unigram, pieces
/// with log probabilities, control and unknown pieces) against siglip_tokenizer_reference.py, which follows
/// transformers' SiglipTokenizer and SentencePiece's unigram Viterbi in plain Python: lowercasing, punctuation
/// removal, whitespace, NFKC, ambiguous segmentations, unknown characters (fused when consecutive, outside the BMP
/// too), "▁" in the text. Then a SigLIP model directory with only spiece.model embeds texts through it.</summary>
public sealed class SiglipTokenizerTests(VisionReference r) : IClassFixture<VisionReference>
{
    // (piece, log probability, SentencePiece type: 1 normal, 2 unknown, 3 control)
    private static readonly (string Piece, float Score, int Type)[] Pieces =
    [
        ("<pad>", 0, 3), ("</s>", 0, 3), ("<unk>", 0, 2),
        ("▁", -2.5f, 1), ("▁a", -3, 1), ("a", -4, 1), ("▁photo", -5, 1), ("▁ph", -6, 1), ("o", -4, 1), ("t", -4, 1),
        ("p", -4.5f, 1), ("h", -4.5f, 1), ("▁of", -4, 1), ("f", -5, 1), ("▁c", -5, 1), ("c", -5, 1), ("▁cat", -5.5f, 1),
        ("at", -5, 1), ("▁two", -6, 1), ("w", -5, 1), ("▁dog", -6, 1), ("s", -4, 1), ("d", -5, 1), ("g", -5, 1),
        ("▁play", -6.5f, 1), ("ing", -5, 1), ("i", -5, 1), ("n", -5, 1), ("l", -5, 1), ("y", -5, 1), ("e", -4, 1),
        ("r", -5, 1), ("é", -6, 1), ("u", -5, 1), ("▁x", -6, 1), ("x", -6, 1), ("▁y", -6, 1), ("<", -8, 1), (">", -8, 1),
        ("unk", -7, 1), ("k", -6, 1), ("▁he", -6, 1), ("llo", -7, 1), ("ll", -6, 1), ("▁world", -8, 1), ("▁test", -7, 1),
        ("es", -5, 1), ("▁photograph", -9, 1), ("graph", -7, 1), ("▁caf", -7, 1), ("▁ca", -5.2f, 1), ("fé", -6.5f, 1),
        ("1", -6, 1), ("2", -6, 1), ("▁12", -7, 1), ("m", -5, 1), ("b", -6, 1),
    ];

    private static readonly string[] Texts =
    [
        "A photo of a cat.", "  Two   DOGS, playing!! ", "a photograph", "Café au lait", "x\u2581y", "qq zebra ☃ 🙂",
        "", "Hello-world's (test)", "ｐｈｏｔｏ １２", "a\tcat\nplaying", "cat's hat",
    ];

    private string WriteModel(string dir)
    {
        using var ms = new MemoryStream();
        foreach (var (piece, score, type) in Pieces)
        {
            using var p = new MemoryStream();
            Bytes(p, 1, Encoding.UTF8.GetBytes(piece));
            Tag(p, 2, 5);
            p.Write(BitConverter.GetBytes(score));
            Tag(p, 3, 0);
            Varint(p, (ulong)type);
            Bytes(ms, 1, p.ToArray());
        }
        using (var t = new MemoryStream())
        {
            Tag(t, 3, 0); Varint(t, 1);                 // model_type UNIGRAM
            Tag(t, 40, 0); Varint(t, 2);                // unk_id
            Tag(t, 42, 0); Varint(t, 1);                // eos_id
            Tag(t, 43, 0); Varint(t, 0);                // pad_id
            Bytes(ms, 2, t.ToArray());
        }
        using (var n = new MemoryStream())
        {
            Bytes(n, 1, "nmt_nfkc"u8.ToArray());
            Tag(n, 3, 0); Varint(n, 1);                 // add_dummy_prefix (SigLIP turns it off)
            Bytes(ms, 3, n.ToArray());
        }
        string path = Path.Combine(dir, "spiece.model");
        File.WriteAllBytes(path, ms.ToArray());
        return path;
    }

    [Fact]
    public void Spiece_model_ids_match_the_reference_pipeline()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-siglip-tok-").FullName;
        try
        {
            var tok = SiglipTokenizer.Load(WriteModel(dir));
            Assert.Equal((1, 2, Pieces.Length), (tok.EosId, tok.UnkId, tok.VocabSize));
            var mine = Texts.Select(t => tok.Encode(t)).ToArray();
            // A few by hand: the best segmentation, case and punctuation folded, unknowns fused, </s> last.
            Assert.Equal([4, 6, 12, 4, 16, 1], mine[0]);                           // ▁a ▁photo ▁of ▁a ▁cat </s>
            Assert.Equal("▁photograph", tok.Piece(mine[2][1]));
            Assert.Equal([3, 1], mine[6]);                                        // "" -> ▁ </s> (the prefix SiglipTokenizer adds)
            var reference = Reference(dir);
            if (reference is null) return;                                        // no python3: the hand-checked cases stand
            for (int i = 0; i < Texts.Length; i++)
                Assert.True(reference[i].SequenceEqual(mine[i]),
                    $"'{Texts[i]}': tessera [{string.Join(", ", mine[i])}] ({string.Join(" ", mine[i].Select(tok.Piece))}), reference [{string.Join(", ", reference[i])}]");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_bpe_model_or_a_file_that_is_not_one_is_refused()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-siglip-tok-").FullName;
        try
        {
            string junk = Path.Combine(dir, "junk.model");
            File.WriteAllBytes(junk, [0xFF, 0xFF, 0xFF]);
            Assert.Contains("junk.model", Assert.ThrowsAny<TesseraException>(() => SiglipTokenizer.Load(junk)).Message);
            string bpe = Path.Combine(dir, "bpe.model");
            using (var ms = new MemoryStream())
            {
                using var t = new MemoryStream();
                Tag(t, 3, 0); Varint(t, 2);
                Bytes(ms, 2, t.ToArray());
                File.WriteAllBytes(bpe, ms.ToArray());
            }
            Assert.Contains("model_type 2", Assert.Throws<TokenizerException>(() => SiglipTokenizer.Load(bpe)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SkippableFact]
    public void A_siglip_directory_with_only_spiece_model_embeds_texts_through_it()
    {
        Skip.If(VisionReference.Unavailable is not null, VisionReference.Unavailable);
        string dir = Path.Combine(r.Root, "siglip-spiece");
        Directory.CreateDirectory(dir);
        foreach (var f in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(r.Dir("siglip"), f), Path.Combine(dir, f), overwrite: true);
        var tok = SiglipTokenizer.Load(WriteModel(dir));
        using var model = EmbeddingModel.Open(r.Cpu, dir);
        var e = model.EmbedTexts(["A photo of a cat."]);
        using var siglip = Siglip.Load(r.Cpu, dir);
        var ids = tok.Encode("A photo of a cat.");
        var padded = ids.Concat(Enumerable.Repeat(siglip.Config.TextConfig.PadTokenId, siglip.Config.TextConfig.MaxPositionEmbeddings - ids.Length)).ToArray();
        using var t = Tensor.FromArray(r.Cpu, padded, 1, padded.Length);
        using var expected = siglip.TextEmbeddings(t);
        Assert.Equal(expected.ToFloatArray(), e[0]);
    }

    private static int[][]? Reference(string dir)
    {
        if (!File.Exists("/usr/bin/python3")) return null;
        string casePath = Path.Combine(dir, "case.json");
        File.WriteAllText(casePath, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["pieces"] = Pieces.Select(p => new object[] { p.Piece, p.Score, p.Type }).ToArray(), ["unk"] = 2, ["eos"] = 1, ["texts"] = Texts,
        }));
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Script);
        psi.ArgumentList.Add(casePath);
        psi.Environment.Remove("PYTHONPATH");
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"siglip_tokenizer_reference.py failed ({p.ExitCode}): {err.Result}");
        return JsonSerializer.Deserialize<int[][]>(output);
    }

    private static string Script
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                string s = Path.Combine(d.FullName, "tests", "Tessera.Models.Tests", "Vision", "siglip_tokenizer_reference.py");
                if (File.Exists(s)) return s;
            }
            throw new FileNotFoundException("siglip_tokenizer_reference.py not found above " + AppContext.BaseDirectory);
        }
    }

    private static void Tag(Stream s, int field, int wire) => Varint(s, (ulong)((field << 3) | wire));

    private static void Varint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    private static void Bytes(Stream s, int field, byte[] data)
    {
        Tag(s, field, 2);
        Varint(s, (ulong)data.Length);
        s.Write(data);
    }
}
