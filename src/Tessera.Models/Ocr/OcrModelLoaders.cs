namespace Tessera.Models.Ocr;

/// <summary>Where the pipeline gets its detector and direction classifier: the PP-OCR models themselves, which
/// implement the pipeline's interfaces.</summary>
internal static class OcrModelLoaders
{
    /// <summary>The PP-OCR DB detector in <paramref name="path"/>.</summary>
    public static ITextDetector LoadDetector(string path, IBackend backend) => PpOcrDetector.Load(path, backend);

    /// <summary>The PP-OCR direction classifier in <paramref name="path"/>.</summary>
    public static IDirectionClassifier LoadClassifier(string path, IBackend backend) => PpOcrClassifier.Load(path, backend);
}
