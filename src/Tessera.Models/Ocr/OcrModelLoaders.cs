namespace Tessera.Models.Ocr;

/// <summary>Where the pipeline gets its models: the PP-OCR models themselves, which implement the pipeline's
/// interfaces (the recogniser through a small adapter).</summary>
internal static class OcrModelLoaders
{
    /// <summary>The PP-OCR DB detector in <paramref name="path"/>.</summary>
    public static ITextDetector LoadDetector(string path, IBackend backend) => PpOcrDetector.Load(path, backend);

    /// <summary>The PP-OCR direction classifier in <paramref name="path"/>.</summary>
    public static IDirectionClassifier LoadClassifier(string path, IBackend backend) => PpOcrClassifier.Load(path, backend);

    /// <summary>The PP-OCR recogniser in <paramref name="path"/> with its dictionary.</summary>
    public static ITextRecognizer LoadRecognizer(string path, string dictionaryPath, IBackend backend) =>
        new PpOcrTextRecognizer(PpOcrRecognizer.Load(path, dictionaryPath, backend));

    /// <summary><paramref name="recognizer"/> as the pipeline's <see cref="ITextRecognizer"/>; disposing the adapter
    /// disposes it.</summary>
    public static ITextRecognizer AsTextRecognizer(PpOcrRecognizer recognizer) => new PpOcrTextRecognizer(recognizer);

    private sealed class PpOcrTextRecognizer(PpOcrRecognizer rec) : ITextRecognizer
    {
        public IReadOnlyList<string> Characters => rec.Characters;
        public int ImageHeight => rec.Config.ImageHeight;
        public int MinImageWidth => rec.Config.MinImageWidth;
        public Tensor Forward(Tensor batch) => rec.Forward(batch);
        public void Dispose() => rec.Dispose();
    }
}
