using Tessera.Cpu;
using Tessera.Formats;

namespace Tessera.Models.Tests;

/// <summary>PP-OCR's models load through one weight builder: a load that fails names what is wrong and keeps nothing
/// (everything loaded so far is disposed with the builder), and a loaded model owns and disposes its weights.</summary>
public sealed class PpOcrLoadTests : IDisposable
{
    private readonly CpuBackend _cpu = new(new CpuBackendOptions(Threads: 1));

    public void Dispose() => _cpu.Dispose();

    [Fact]
    public void A_recogniser_whose_dictionary_does_not_fit_its_head_keeps_nothing()
    {
        var wb = WeightBuilder.Open(_cpu, ModelFiles.Rec);
        int loaded;
        try
        {
            var e = Assert.Throws<TesseraException>(() => PpOcrRecognizer.Load(wb, ["", "a", " "]));
            Assert.Contains("the dictionary gives 3 classes (blank + 1 characters + space), the CTC head has 6625", e.Message);
            loaded = wb.Weights.Count;
        }
        finally
        {
            wb.Dispose();
        }
        Assert.True(loaded > 100, $"only {loaded} tensors were loaded before the check");
        Assert.Equal(0, wb.Weights.Count);
    }

    [Fact]
    public void A_detector_loaded_from_the_wrong_file_names_the_missing_tensor()
    {
        using var wb = WeightBuilder.Open(_cpu, ModelFiles.Cls);
        var e = Assert.Throws<WeightFormatException>(() => PpOcrDetector.Load(wb));
        Assert.Contains("ch_ppocr_mobile_v2.0_cls_infer.onnx", e.Message);
        Assert.Contains("'batch_norm2d_0.w_0': no such tensor", e.Message);
    }

    [Fact]
    public void A_loaded_classifier_owns_its_weights_and_disposes_them()
    {
        WeightSet set;
        PpOcrClassifier cls;
        using (var wb = WeightBuilder.Open(_cpu, ModelFiles.Cls))
        {
            cls = PpOcrClassifier.Load(wb);
            set = wb.Weights;
        }
        Assert.True(set.Count > 0);
        using (var x = Tensor.Zeros(_cpu, DType.F32, new Shape(1, 3, 48, 192)))
        using (var p = cls.Forward(x))
            Assert.Equal([1, 2], p.Shape.Dims.ToArray());
        cls.Dispose();
        Assert.Equal(0, set.Count);
    }
}
