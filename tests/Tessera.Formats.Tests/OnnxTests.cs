using Tessera.Cpu;
using Tessera.Formats.Onnx;

namespace Tessera.Formats.Tests;

public class OnnxTests
{
    internal static byte[] SmallModel() => OnnxBuilder.Model(
        [
            OnnxBuilder.RawTensor("conv1.weight", 1, [2, 3], BitConverter.GetBytes(1f).Concat(BitConverter.GetBytes(-2f)).Concat(new byte[16]).ToArray()),
            OnnxBuilder.FloatTensor("fc.bias", [4], [0.5f, 1.5f, -3f, 7f]),
            OnnxBuilder.RawTensor("half", 10, [2], BitConverter.GetBytes(BitConverter.HalfToUInt16Bits((Half)1.5f)).Concat(BitConverter.GetBytes(BitConverter.HalfToUInt16Bits((Half)(-2f)))).ToArray()),
            OnnxBuilder.RawTensor("dbl", 11, [1], BitConverter.GetBytes(2.5)),
        ],
        [("const_shape", OnnxBuilder.Int64Tensor("", [3], [1, -1, 768]))]);

    [Fact]
    public void ReadsInitializersAndConstants()
    {
        using var dir = new TempDir();
        string path = dir.File("m.onnx");
        File.WriteAllBytes(path, SmallModel());
        using var f = WeightFile.Open(path);
        Assert.IsType<OnnxFile>(f);
        Assert.Equal("tessera-tests", f.Metadata["producer_name"]);
        Assert.Equal("17", f.Metadata["opset"]);
        Assert.Equal(new[] { "const_shape", "conv1.weight", "fc.bias", "half", "dbl" }, f.Names);
        Assert.Equal(new long[] { 2, 3 }, f.Info("conv1.weight").Dims);
        Assert.Equal("FLOAT", f.Info("conv1.weight").TypeName);
        using (var t = f.Load("conv1.weight", CpuBackend.Default)) Assert.Equal(new[] { 1f, -2f, 0, 0, 0, 0 }, t.ToArray<float>());
        using (var t = f.Load("fc.bias", CpuBackend.Default)) Assert.Equal(new[] { 0.5f, 1.5f, -3f, 7f }, t.ToArray<float>());
        using (var t = f.Load("half", CpuBackend.Default)) Assert.Equal(new[] { (Half)1.5f, (Half)(-2f) }, t.ToArray<Half>());
        using (var t = f.Load("const_shape", CpuBackend.Default)) Assert.Equal(new[] { 1L, -1L, 768L }, t.ToArray<long>());
        Assert.Equal("DOUBLE", f.Info("dbl").TypeName);
        Assert.Null(f.Info("dbl").DType);
        Assert.Throws<WeightFormatException>(() => f.Load("dbl", CpuBackend.Default));
    }

    [Fact]
    public void RawDataOfTheWrongSizeIsRefused()
    {
        using var dir = new TempDir();
        string path = dir.File("bad.onnx");
        File.WriteAllBytes(path, OnnxBuilder.Model([OnnxBuilder.RawTensor("w", 1, [3], new byte[8])], []));
        var e = Assert.Throws<WeightFormatException>(() => WeightFile.Open(path));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("raw_data has 8 bytes", e.Message);
    }
}
