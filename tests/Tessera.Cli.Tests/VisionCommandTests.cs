using System.Text;
using System.Text.Json;
using Tessera.Models.Tests.Vision;

namespace Tessera.Cli.Tests;

/// <summary>The checkpoints the vision command tests run on: a random CLIP (published layout, with a small CLIP BPE
/// vocabulary and a CLIPImageProcessor config) and a random ViT classifier, plus real photographs from Debian's
/// python3-skimage.</summary>
public sealed class VisionCommandFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("tessera-vision-cli-").FullName;
    public string Clip => Path.Combine(Root, "clip");
    public string Vit => Path.Combine(Root, "vit");
    public string Photos => Path.Combine(Root, "photos");
    public static readonly string SkimageData = "/usr/lib/python3/dist-packages/skimage/data";
    public static readonly string[] PhotoNames = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg"];

    public VisionCommandFixture()
    {
        // CLIP's vocabulary layout: 256 byte symbols, the same with </w>, the merges, start and end of text.
        var bytes = ByteAlphabet();
        string[][] merges = [["c", "a"], ["ca", "t</w>"], ["d", "o"], ["do", "g</w>"], ["p", "h"], ["ph", "o"], ["pho", "t"], ["phot", "o</w>"], ["o", "f</w>"]];
        var vocab = bytes.Concat(bytes.Select(b => b + "</w>")).Concat(merges.Select(m => m[0] + m[1])).Concat(["<|startoftext|>", "<|endoftext|>"]).ToList();
        var clip = new RandomCheckpoint(Clip, 11);
        clip.Write(VisionCases.Clip(clip, eos: vocab.Count - 1, vocab: vocab.Count), "clip", -1);
        File.WriteAllText(Path.Combine(Clip, "vocab.json"), JsonSerializer.Serialize(vocab.Select((v, i) => (v, i)).ToDictionary(p => p.v, p => p.i)));
        File.WriteAllText(Path.Combine(Clip, "merges.txt"), "#version: 0.2\n" + string.Join("\n", merges.Select(m => m[0] + " " + m[1])) + "\n");
        File.WriteAllText(Path.Combine(Clip, "preprocessor_config.json"),
            $$"""{"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": {{VisionCases.Image}}}, "crop_size": {"height": {{VisionCases.Image}}, "width": {{VisionCases.Image}}}, "do_center_crop": true, "resample": 3}""");
        var vit = new RandomCheckpoint(Vit, 12);
        vit.Write(VisionCases.Vit(vit), "vit", -1);
        Directory.CreateDirectory(Photos);
        foreach (var p in PhotoNames)
            if (File.Exists(Path.Combine(SkimageData, p))) File.Copy(Path.Combine(SkimageData, p), Path.Combine(Photos, p));
    }

    public string Photo(string name) => Path.Combine(Photos, name);

    public static string? Missing => File.Exists(Path.Combine(SkimageData, "chelsea.png")) ? null
        : $"{SkimageData} is absent (apt-get install python3-skimage): the real photographs";

    private static List<string> ByteAlphabet()
    {
        var bs = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range(0xA1, 0xAC - 0xA1 + 1)).Concat(Enumerable.Range(0xAE, 0xFF - 0xAE + 1)).ToList();
        var map = new Dictionary<int, int>();
        int n = 0;
        for (int b = 0; b < 256; b++) map[b] = bs.Contains(b) ? b : 256 + n++;
        return [.. Enumerable.Range(0, 256).Select(b => char.ConvertFromUtf32(map[b]))];
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary><c>tessera embed</c>, <c>classify</c>, <c>index</c> and <c>search</c> as a user runs them, on random
/// checkpoints in the published layout and real photographs: the JSON shapes of the issue, normalised embeddings in
/// input order, both ways of giving several images, scores that are probabilities, an index that finds an image by
/// itself, and clear errors.</summary>
public sealed class VisionCommandTests(VisionCommandFixture f) : IClassFixture<VisionCommandFixture>
{
    private static JsonElement Json(TesseraProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);           // the whole of stdout is one JSON object
        return doc.RootElement.Clone();
    }

    private static float[][] Embeddings(JsonElement o) =>
        [.. o.GetProperty("embeddings").EnumerateArray().Select(e => e.EnumerateArray().Select(v => v.GetSingle()).ToArray())];

    [SkippableFact]
    public void Embed_images_json_is_normalised_in_input_order_either_way_of_listing()
    {
        Skip.If(VisionCommandFixture.Missing is not null, VisionCommandFixture.Missing);
        string a = f.Photo("chelsea.png"), b = f.Photo("astronaut.png");
        var one = Json(TesseraProcess.Run("embed", "--model", f.Clip, "--image", a, b, "--threads", "1", "--json"));
        var two = Json(TesseraProcess.Run("embed", "--model", f.Clip, "--image", b, "--image", a, "--threads", "1", "--json"));
        Assert.Equal(f.Clip, one.GetProperty("model").GetString());
        Assert.Equal(17, one.GetProperty("dim").GetInt32());
        var e1 = Embeddings(one);
        var e2 = Embeddings(two);
        Assert.Equal(2, e1.Length);
        foreach (var row in e1) Assert.InRange(Math.Sqrt(row.Sum(v => (double)v * v)), 0.9999, 1.0001);
        for (int j = 0; j < 17; j++)
        {
            Assert.Equal(e1[0][j], e2[1][j], 5);
            Assert.Equal(e1[1][j], e2[0][j], 5);
        }
        Assert.NotEqual(e1[0][0], e1[1][0]);
        var texts = Json(TesseraProcess.Run("embed", "--model", f.Clip, "--text", "a photo of a cat", "dog", "--json"));
        Assert.Equal(2, Embeddings(texts).Length);
        var vit = Json(TesseraProcess.Run("embed", "--model", f.Vit, "--image", a, "--json"));
        Assert.Equal(VisionCases.VisionDim, vit.GetProperty("dim").GetInt32());
    }

    [SkippableFact]
    public void Classify_clip_scores_are_a_softmax_sorted_and_cut_by_top()
    {
        Skip.If(VisionCommandFixture.Missing is not null, VisionCommandFixture.Missing);
        var o = Json(TesseraProcess.Run("classify", "--model", f.Clip, "--image", f.Photo("chelsea.png"), f.Photo("coffee.png"),
            "--labels", "cat,dog,cup of coffee", "--templates", "none", "--json"));
        var results = o.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(2, results.Count);
        Assert.Equal(f.Photo("chelsea.png"), results[0].GetProperty("file").GetString());
        foreach (var r in results)
        {
            var scores = r.GetProperty("labels").EnumerateArray().Select(l => l.GetProperty("score").GetDouble()).ToList();
            Assert.Equal(3, scores.Count);
            Assert.InRange(scores.Sum(), 0.9999, 1.0001);
            Assert.Equal(scores.OrderByDescending(s => s), scores);
        }
        var top = Json(TesseraProcess.Run("classify", "--model", f.Clip, "--image", f.Photo("chelsea.png"), "--labels", "cat,dog,cup of coffee", "--top", "2", "--json"));
        Assert.Equal(2, top.GetProperty("results")[0].GetProperty("labels").GetArrayLength());
    }

    [SkippableFact]
    public void Classify_vit_without_labels_is_the_softmax_over_id2label()
    {
        Skip.If(VisionCommandFixture.Missing is not null, VisionCommandFixture.Missing);
        var o = Json(TesseraProcess.Run("classify", "--model", f.Vit, "--image", f.Photo("astronaut.png"), "--json"));
        var labels = o.GetProperty("results")[0].GetProperty("labels").EnumerateArray().ToList();
        Assert.Equal(7, labels.Count);
        Assert.InRange(labels.Sum(l => l.GetProperty("score").GetDouble()), 0.9999, 1.0001);
        Assert.All(labels, l => Assert.StartsWith("class ", l.GetProperty("label").GetString()));
    }

    [SkippableFact]
    public void Index_and_search_find_an_image_by_itself()
    {
        Skip.If(VisionCommandFixture.Missing is not null, VisionCommandFixture.Missing);
        string index = Path.Combine(f.Root, "photos.idx");
        var made = Json(TesseraProcess.Run("index", f.Photos, "--model", f.Clip, "--out", index, "--json"));
        Assert.Equal(VisionCommandFixture.PhotoNames.Length, made.GetProperty("count").GetInt32());
        var hits = Json(TesseraProcess.Run("search", index, "--image", f.Photo("coffee.png"), "--top", "2", "--json")).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(2, hits.Count);
        Assert.Equal(Path.GetFullPath(f.Photo("coffee.png")), hits[0].GetProperty("path").GetString());
        Assert.InRange(hits[0].GetProperty("score").GetDouble(), 0.9999, 1.0001);
        Assert.True(hits[1].GetProperty("score").GetDouble() < 0.9999);
        var byText = Json(TesseraProcess.Run("search", index, "--text", "a photo of a cat", "--json")).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(VisionCommandFixture.PhotoNames.Length, byText.Count);               // --top 5 by default, 4 indexed
        var scores = byText.Select(h => h.GetProperty("score").GetDouble()).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
    }

    [SkippableFact]
    public void A_multi_vector_index_scores_by_maxsim_and_finds_an_image_by_its_own_patches()
    {
        Skip.If(VisionCommandFixture.Missing is not null, VisionCommandFixture.Missing);
        string index = Path.Combine(f.Root, "photos-multi.idx");
        int patches = VisionCases.Grid * VisionCases.Grid;
        var made = Json(TesseraProcess.Run("index", f.Photos, "--model", f.Clip, "--out", index, "--multi-vector", "--quantize", "q8_0", "--json"));
        Assert.Equal("multi-vector", made.GetProperty("kind").GetString());
        Assert.Equal(VisionCommandFixture.PhotoNames.Length * patches, made.GetProperty("vectors").GetInt32());
        Assert.Equal("q8_0", Tessera.Models.Vision.ImageIndex.Load(index).Quantize);
        // Each of the query's patches finds itself (dot 1): MaxSim of an image with itself is its patch count, the most any image can score.
        var hits = Json(TesseraProcess.Run("search", index, "--image", f.Photo("chelsea.png"), "--top", "2", "--json")).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(Path.GetFullPath(f.Photo("chelsea.png")), hits[0].GetProperty("path").GetString());
        Assert.InRange(hits[0].GetProperty("score").GetDouble(), patches - 1e-3, patches + 1e-3);
        Assert.True(hits[1].GetProperty("score").GetDouble() < patches - 1e-3);
        var byText = Json(TesseraProcess.Run("search", index, "--text", "a photo of a cat", "--json")).GetProperty("results").EnumerateArray().ToList();
        var scores = byText.Select(h => h.GetProperty("score").GetDouble()).ToList();
        Assert.Equal(VisionCommandFixture.PhotoNames.Length, scores.Count);
        Assert.Equal(scores.OrderByDescending(s => s), scores);
        var vitMulti = TesseraProcess.Run("index", f.Photos, "--model", f.Vit, "--out", Path.Combine(f.Root, "vit-multi.idx"), "--multi-vector");
        Assert.NotEqual(0, vitMulti.ExitCode);
        Assert.Contains("multi-vector retrieval needs CLIP or SigLIP", vitMulti.Stderr);
    }

    [SkippableFact]
    public void Quantize_q8_0_embeds_and_a_bad_type_names_the_choices()
    {
        Skip.If(VisionCommandFixture.Missing is not null, VisionCommandFixture.Missing);
        var q = Json(TesseraProcess.Run("embed", "--model", f.Vit, "--image", f.Photo("chelsea.png"), "--quantize", "q8_0", "--json"));
        Assert.Equal(VisionCases.VisionDim, q.GetProperty("dim").GetInt32());
        var bad = TesseraProcess.Run("classify", "--model", f.Vit, "--image", f.Photo("chelsea.png"), "--quantize", "int3");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--quantize must be q8_0", bad.Stderr);
    }

    [SkippableFact]
    public void A_checkpoint_that_disagrees_with_its_config_and_impossible_images_are_refused_end_to_end()
    {
        Skip.If(VisionCommandFixture.Missing is not null, VisionCommandFixture.Missing);
        // config.json says hidden_size 48, the tensors are 36 wide: the error names the key, the tensor and both shapes.
        string bad = Path.Combine(f.Root, "vit-hidden-48");
        Directory.CreateDirectory(bad);
        File.Copy(Path.Combine(f.Vit, "model.safetensors"), Path.Combine(bad, "model.safetensors"), overwrite: true);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(f.Vit, "config.json")))!;
        config["hidden_size"] = 48;
        File.WriteAllText(Path.Combine(bad, "config.json"), config.ToJsonString());
        foreach (var args in new[] { new[] { "embed", "--model", bad, "--image", f.Photo("chelsea.png") }, ["classify", "--model", bad, "--image", f.Photo("chelsea.png"), "--quantize", "q8_0"] })
        {
            var r = TesseraProcess.Run(args);
            Assert.NotEqual(0, r.ExitCode);
            foreach (var named in new[] { "hidden_size 48", "vit.embeddings.patch_embeddings.projection.weight", "[36, 3, 6, 6]", "[48, 3, 6, 6]" })
                Assert.Contains(named, r.Stderr);
        }

        // Headers that claim 50,000 x 50,000 pixels (PNG and BMP) or none: refused by name before any pixel memory.
        string images = Path.Combine(f.Root, "impossible");
        Directory.CreateDirectory(images);
        string huge = Path.Combine(images, "huge.png"), empty = Path.Combine(images, "empty.png"), bmp = Path.Combine(images, "huge.bmp");
        File.WriteAllBytes(huge, HeaderOnlyImages.Png(50_000, 50_000));
        File.WriteAllBytes(empty, HeaderOnlyImages.Png(0, 7));
        File.WriteAllBytes(bmp, HeaderOnlyImages.Bmp(50_000, 50_000));
        foreach (var (file, named) in new[] { (huge, "exceeds"), (empty, "no pixels (0x7)"), (bmp, "exceeds") })
        {
            var r = TesseraProcess.Run("embed", "--model", f.Vit, "--image", file);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains(Path.GetFileName(file), r.Stderr);
            Assert.Contains(named, r.Stderr);
        }
        // index skips them, naming each, and indexes the rest.
        File.Copy(f.Photo("chelsea.png"), Path.Combine(images, "chelsea.png"), overwrite: true);
        var made = TesseraProcess.Run("index", images, "--model", f.Vit, "--out", Path.Combine(f.Root, "impossible.idx"), "--json");
        var o = Json(made);
        Assert.Equal(1, o.GetProperty("count").GetInt32());
        Assert.Equal(3, o.GetProperty("skipped").GetArrayLength());
        Assert.Contains("huge.bmp", made.Stderr);
    }

    [Fact]
    public void Bad_requests_exit_non_zero_naming_the_problem()
    {
        var both = TesseraProcess.Run("embed", "--model", f.Clip, "--image", "x.png", "--text", "t");
        Assert.NotEqual(0, both.ExitCode);
        Assert.Contains("one of the two", both.Stderr);
        var noLabels = TesseraProcess.Run("classify", "--model", f.Clip, "--image", "x.png");
        Assert.NotEqual(0, noLabels.ExitCode);
        Assert.Contains("--labels", noLabels.Stderr);
        var notIndex = TesseraProcess.Run("search", Path.Combine(f.Clip, "config.json"), "--text", "t");
        Assert.NotEqual(0, notIndex.ExitCode);
        Assert.Contains("not a tessera image index", notIndex.Stderr);
        var missing = TesseraProcess.Run("embed", "--model", f.Clip, "--image", Path.Combine(f.Root, "nothing.png"));
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("nothing.png", missing.Stderr);
    }
}
