namespace Tessera.Models.Tests;

/// <summary>The bundled PP-OCRv4 files, found by walking up from the test binaries to the repository root.</summary>
public static class ModelFiles
{
    private static readonly Lazy<string> s_dir = new(() =>
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string p = Path.Combine(d.FullName, "models", "ppocr-v4");
            if (File.Exists(Path.Combine(p, "ch_PP-OCRv4_rec_infer.onnx"))) return p;
        }
        throw new FileNotFoundException("models/ppocr-v4/ch_PP-OCRv4_rec_infer.onnx not found above " + AppContext.BaseDirectory);
    });

    public static string Rec => Path.Combine(s_dir.Value, "ch_PP-OCRv4_rec_infer.onnx");
    public static string Det => Path.Combine(s_dir.Value, "ch_PP-OCRv4_det_infer.onnx");
    public static string Cls => Path.Combine(s_dir.Value, "ch_ppocr_mobile_v2.0_cls_infer.onnx");
    public static string Keys => Path.Combine(s_dir.Value, "ppocr_keys_v1.txt");
}
