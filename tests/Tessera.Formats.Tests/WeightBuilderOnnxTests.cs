using System.Text;
using Tessera.Cpu;
using Tessera.Formats.Onnx;

namespace Tessera.Formats.Tests;

/// <summary>ONNX Constant nodes as a weight source, in each form the operator allows, through the builder.</summary>
public class WeightBuilderOnnxTests
{
    private static readonly IBackend Cpu = CpuBackend.Default;

    // A NodeProto: output 2, op_type 4, attribute 5, domain 7; an AttributeProto: name 1, f 2, i 3, t 5, floats 7, ints 8.
    private static byte[] Node(string opType, string output, byte[] attribute, string? domain = null)
    {
        var node = new MemoryStream();
        OnnxBuilder.Bytes(node, 2, Encoding.UTF8.GetBytes(output));
        OnnxBuilder.Bytes(node, 4, Encoding.UTF8.GetBytes(opType));
        OnnxBuilder.Bytes(node, 5, attribute);
        if (domain is not null) OnnxBuilder.Bytes(node, 7, Encoding.UTF8.GetBytes(domain));
        return node.ToArray();
    }

    private static byte[] Attribute(string name, Action<MemoryStream> value)
    {
        var a = new MemoryStream();
        OnnxBuilder.Bytes(a, 1, Encoding.UTF8.GetBytes(name));
        value(a);
        return a.ToArray();
    }

    private static byte[] Model(params byte[][] nodes)
    {
        var graph = new MemoryStream();
        foreach (var n in nodes) OnnxBuilder.Bytes(graph, 1, n);
        OnnxBuilder.Bytes(graph, 5, OnnxBuilder.FloatTensor("init.weight", [2], [1f, 2f]));
        var model = new MemoryStream();
        OnnxBuilder.Bytes(model, 7, graph.ToArray());
        return model.ToArray();
    }

    private static void Fixed32(Stream s, int field, float v)
    {
        OnnxBuilder.Varint(s, (ulong)(field << 3 | 5));
        s.Write(BitConverter.GetBytes(v));
    }

    private static byte[] EveryForm() => Model(
        Node("Constant", "w_tensor", Attribute("value", a => OnnxBuilder.Bytes(a, 5, OnnxBuilder.RawTensor("ignored_name", 1, [3, 1], [.. BitConverter.GetBytes(1.5f), .. BitConverter.GetBytes(-2f), .. BitConverter.GetBytes(3f)])))),
        Node("Constant", "eps", Attribute("value_float", a => Fixed32(a, 2, 1e-5f))),
        Node("Constant", "scales", Attribute("value_floats", a => { var p = new MemoryStream(); foreach (var f in new[] { 0.5f, 0.25f, 8f }) p.Write(BitConverter.GetBytes(f)); OnnxBuilder.Bytes(a, 7, p.ToArray()); })),
        Node("Constant", "axis", Attribute("value_int", a => { OnnxBuilder.Varint(a, 3 << 3); OnnxBuilder.Varint(a, unchecked((ulong)-1L)); })),
        Node("Constant", "shape", Attribute("value_ints", a => { foreach (long v in new long[] { 1, 17, 33 }) { OnnxBuilder.Varint(a, 8 << 3); OnnxBuilder.Varint(a, (ulong)v); } })),
        Node("Constant", "label", Attribute("value_string", a => OnnxBuilder.Bytes(a, 4, "cat"u8.ToArray()))),
        Node("Constant", "custom_domain", Attribute("value_float", a => Fixed32(a, 2, 7f)), domain: "com.example"),
        Node("ConstantOfShape", "not_a_weight", Attribute("value", a => OnnxBuilder.Bytes(a, 5, OnnxBuilder.FloatTensor("", [1], [0f])))));

    [Fact]
    public void EveryFormOfConstantLoadsByItsOutputName()
    {
        using var dir = new TempDir();
        string path = dir.File("m.onnx");
        File.WriteAllBytes(path, EveryForm());
        using var wb = WeightBuilder.Open(Cpu, path);
        var src = Assert.IsType<OnnxFile>(wb.Sources[0]);
        Assert.Equal(new[] { "w_tensor", "eps", "scales", "axis", "shape", "label", "init.weight" }, src.Names);
        Assert.Equal(new[] { 1.5f, -2f, 3f }, wb.Get("w_tensor", 3, 1).ToArray<float>());
        var eps = wb.Get("eps");
        Assert.Equal(0, eps.Rank);
        Assert.Equal(1e-5f, wb.GetScalar("eps"));
        Assert.Equal(new[] { 0.5f, 0.25f, 8f }, wb.Get("scales", 3).ToArray<float>());
        Assert.Equal(new[] { -1L }, wb.Get("axis").ToArray<long>());
        Assert.Equal(DType.I64, wb.Info("shape").DType);
        Assert.Equal(new[] { 1L, 17L, 33L }, wb.Get("shape", 3).ToArray<long>());
        Assert.Equal(new[] { 1f, 2f }, wb.Get("init.weight", 2).ToArray<float>());
        Assert.Equal("STRING", wb.Info("label").TypeName);
        var e = Assert.Throws<WeightFormatException>(() => wb.Get("label"));
        Assert.Contains("'label'", e.Message);
        Assert.False(wb.Contains("not_a_weight"));
        Assert.False(wb.Contains("custom_domain"));
    }

    [Fact]
    public void AConstantNamedLikeAnInitializerIsADuplicate()
    {
        using var dir = new TempDir();
        string path = dir.File("dup.onnx");
        File.WriteAllBytes(path, Model(Node("Constant", "init.weight", Attribute("value_float", a => Fixed32(a, 2, 1f)))));
        var e = Assert.Throws<WeightFormatException>(() => WeightBuilder.Open(Cpu, path));
        Assert.Contains("'init.weight'", e.Message);
        Assert.Contains("duplicate", e.Message);
    }

    internal static string? RepoFile(string relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, relative))) return Path.Combine(d.FullName, relative);
        return null;
    }

    [SkippableTheory]
    [InlineData("ch_PP-OCRv4_det_infer.onnx")]
    [InlineData("ch_PP-OCRv4_rec_infer.onnx")]
    [InlineData("ch_ppocr_mobile_v2.0_cls_infer.onnx")]
    public void TheRealPpOcrModelsListEveryConstantNodeAndLoadIt(string file)
    {
        string? path = RepoFile(Path.Combine("models", "ppocr-v4", file));
        Skip.If(path is null, $"models/ppocr-v4/{file} not found above {AppContext.BaseDirectory}");
        var constants = OnnxGraph.Read(path!).Nodes.Where(n => n.OpType == "Constant").Select(n => n.Outputs[0]).ToList();
        using var wb = WeightBuilder.Open(Cpu, path!);
        var names = wb.Sources[0].Names;
        Assert.All(constants, c => Assert.Contains(c, names));
        foreach (var name in names)
        {
            var info = wb.Info(name);
            if (info.DType is null) continue;
            Assert.Equal(info.ElementCount, wb.Get(name, info.Dims.Select(d => (int)d).ToArray()).ElementCount);
        }
    }

    [Fact]
    public void MutatedConstantNodesLoadOrThrowWeightFormatException()
    {
        using var dir = new TempDir();
        string path = dir.File("fuzz.onnx");
        var valid = EveryForm();
        var rng = new Random(29);
        int ok = 0, refused = 0;
        for (int i = 0; i < 2000; i++)
        {
            var d = (byte[])valid.Clone();
            int pos = rng.Next(d.Length);
            switch (rng.Next(4))
            {
                case 0: d[pos] ^= (byte)(1 << rng.Next(8)); break;
                case 1: d[pos] = (byte)rng.Next(256); break;
                case 2: d[pos] = 0xFF; if (pos + 1 < d.Length) d[pos + 1] = 0xFF; break;
                default: d = d[..Math.Max(1, pos)]; break;
            }
            File.WriteAllBytes(path, d);
            try
            {
                using var wb = WeightBuilder.Open(Cpu, path);
                foreach (var name in wb.Sources[0].Names)
                    if (wb.Info(name).DType is not null) wb.Get(name);
                ok++;
            }
            catch (WeightFormatException) { refused++; }
        }
        Assert.True(ok > 0 && refused > 0, $"{ok} loaded, {refused} refused");
    }
}
