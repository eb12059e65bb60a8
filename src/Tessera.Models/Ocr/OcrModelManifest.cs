using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Models.Ocr;

/// <summary>One recogniser of a model directory: its ONNX file and its character dictionary, both relative to the
/// directory.</summary>
/// <param name="Model">The recogniser's ONNX file.</param>
/// <param name="Dictionary">Its dictionary, one character a line (PaddleOCR's <c>*_dict.txt</c> / <c>ppocr_keys_v1.txt</c>).</param>
/// <param name="Description">What it reads, for people (optional).</param>
public sealed record OcrRecognizerEntry(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("dictionary")] string Dictionary,
    [property: JsonPropertyName("description")] string? Description = null);

/// <summary>What a PP-OCR model directory holds, from its <c>manifest.json</c>: the detector, the direction classifier and
/// the recognisers by language, so that other PP-OCR recognisers and dictionaries dropped into the directory are
/// found by name (<c>--lang</c>) rather than by file names built into the code:
/// <code>
/// { "detector": "ch_PP-OCRv4_det_infer.onnx", "classifier": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
///   "default_language": "ch",
///   "recognizers": { "ch": { "model": "ch_PP-OCRv4_rec_infer.onnx", "dictionary": "ppocr_keys_v1.txt" },
///                    "en": { "model": "en_PP-OCRv4_rec_infer.onnx", "dictionary": "en_dict.txt" } } }
/// </code>
/// A directory without a manifest is read as PaddleOCR's default Chinese set (<see cref="PaddleDefaults"/>).</summary>
public sealed record OcrModelManifest
{
    /// <summary>The manifest's file name in a model directory.</summary>
    public const string FileName = "manifest.json";

    /// <summary>The DB detector's file.</summary>
    [JsonPropertyName("detector")] public required string Detector { get; init; }

    /// <summary>The direction classifier's file (optional: only <c>--cls</c> needs it).</summary>
    [JsonPropertyName("classifier")] public string? Classifier { get; init; }

    /// <summary>The language used when none is asked for.</summary>
    [JsonPropertyName("default_language")] public required string DefaultLanguage { get; init; }

    /// <summary>The recognisers by language name.</summary>
    [JsonPropertyName("recognizers")] public required IReadOnlyDictionary<string, OcrRecognizerEntry> Recognizers { get; init; }

    /// <summary>PaddleOCR's default set (the files PaddleOCR's Chinese/English PP-OCRv4 pipeline names), for a directory
    /// without a manifest.</summary>
    public static OcrModelManifest PaddleDefaults { get; } = new()
    {
        Detector = OcrPipeline.DetectorFile,
        Classifier = OcrPipeline.ClassifierFile,
        DefaultLanguage = "ch",
        Recognizers = new Dictionary<string, OcrRecognizerEntry>
        {
            ["ch"] = new(OcrPipeline.RecognizerFile, OcrPipeline.DictionaryFile, "Chinese and English (PP-OCRv4)"),
        },
    };

    /// <summary>The names of the languages, sorted.</summary>
    public IEnumerable<string> Languages => Recognizers.Keys.Order(StringComparer.Ordinal);

    /// <summary>The manifest of <paramref name="modelDir"/>, or <see cref="PaddleDefaults"/> when it has none. A
    /// manifest that does not parse, or lacks the detector, the default language or a recogniser's files, throws a
    /// <see cref="TesseraException"/> naming the file and what is wrong.</summary>
    public static OcrModelManifest Load(string modelDir)
    {
        string path = Path.Combine(modelDir, FileName);
        if (!File.Exists(path)) return PaddleDefaults;
        OcrModelManifest? m;
        try { m = JsonSerializer.Deserialize(File.ReadAllText(path), OcrManifestJson.Default.OcrModelManifest); }
        catch (JsonException e) { throw new TesseraException($"OCR model manifest {path}: {e.Message}"); }
        if (m is null) throw new TesseraException($"OCR model manifest {path}: empty");
        if (m.Recognizers.Count == 0) throw new TesseraException($"OCR model manifest {path}: no recognizers");
        if (!m.Recognizers.ContainsKey(m.DefaultLanguage))
            throw new TesseraException($"OCR model manifest {path}: default_language '{m.DefaultLanguage}' is not among its recognizers ({string.Join(", ", m.Languages)})");
        foreach (var (lang, e) in m.Recognizers)
            if (string.IsNullOrWhiteSpace(e.Model) || string.IsNullOrWhiteSpace(e.Dictionary))
                throw new TesseraException($"OCR model manifest {path}: recognizer '{lang}' needs both \"model\" and \"dictionary\"");
        return m;
    }

    /// <summary>The recogniser for <paramref name="language"/> (the default one when null); an unknown language
    /// throws a <see cref="TesseraException"/> listing the available ones.</summary>
    public OcrRecognizerEntry Recognizer(string? language)
    {
        string lang = language ?? DefaultLanguage;
        return Recognizers.TryGetValue(lang, out var e) ? e
            : throw new TesseraException($"OCR language '{lang}' is not in this model directory; available: {string.Join(", ", Languages)} (add a recognizer to {FileName} for more)");
    }
}

[JsonSerializable(typeof(OcrModelManifest))]
[JsonSourceGenerationOptions(ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
internal sealed partial class OcrManifestJson : JsonSerializerContext;
