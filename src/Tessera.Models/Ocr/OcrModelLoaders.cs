namespace Tessera.Models.Ocr;

/// <summary>Where the pipeline gets its detector and direction classifier. The DB detector (PpOcrDetector) and the
/// classifier (PpOcrClassifier) are separate model files merged into this project on their own; until they are,
/// these loaders say so. After the merge, each body becomes one line:
/// <code>
/// public static ITextDetector LoadDetector(string path, IBackend backend) => new DetectorAdapter(PpOcrDetector.Load(path, backend));
/// public static IDirectionClassifier LoadClassifier(string path, IBackend backend) => new ClassifierAdapter(PpOcrClassifier.Load(path, backend));
/// </code>
/// with the adapters below un-commented.</summary>
internal static class OcrModelLoaders
{
    /// <summary>The PP-OCR DB detector in <paramref name="path"/>.</summary>
    public static ITextDetector LoadDetector(string path, IBackend backend) =>
        throw new TesseraException($"PP-OCR text detection is not in this build (the DB detector model is not merged yet); cannot load {path}. Use recognition-only mode.");

    /// <summary>The PP-OCR direction classifier in <paramref name="path"/>.</summary>
    public static IDirectionClassifier LoadClassifier(string path, IBackend backend) =>
        throw new TesseraException($"PP-OCR direction classification is not in this build (the classifier model is not merged yet); cannot load {path}.");

    // After the merge (the models' own Dispose, if they have one, is called through IDisposable):
    // private sealed class DetectorAdapter(PpOcrDetector model) : ITextDetector
    // {
    //     public Tensor Forward(Tensor image) => model.Forward(image);
    //     public void Dispose() => (model as IDisposable)?.Dispose();
    // }
    // private sealed class ClassifierAdapter(PpOcrClassifier model) : IDirectionClassifier
    // {
    //     public Tensor Forward(Tensor batch) => model.Forward(batch);
    //     public void Dispose() => (model as IDisposable)?.Dispose();
    // }
}
