namespace Tessera.Models.Ocr.Output;

/// <summary>The document formats an OCR result is written in.</summary>
public enum OcrOutputFormat
{
    /// <summary>Plain text (<see cref="OcrTextWriter"/>).</summary>
    Text,

    /// <summary>JSON: pages, blocks, lines and words with boxes and confidences (written by the caller, e.g. the CLI,
    /// with its own report fields).</summary>
    Json,

    /// <summary>hOCR, as Tesseract writes it (<see cref="HocrWriter"/>).</summary>
    Hocr,

    /// <summary>ALTO 3 XML, as Tesseract writes it (<see cref="AltoWriter"/>).</summary>
    Alto,

    /// <summary>Tesseract's tab-separated word table (<see cref="TsvWriter"/>).</summary>
    Tsv,

    /// <summary>A searchable PDF: the page images under an invisible text layer (<see cref="SearchablePdfWriter"/>).</summary>
    Pdf,
}

/// <summary>Parsing and naming of <see cref="OcrOutputFormat"/>.</summary>
public static class OcrOutputFormats
{
    /// <summary>The format names, as the CLI takes them.</summary>
    public const string Names = "text|json|hocr|alto|tsv|pdf";

    /// <summary>The format named <paramref name="name"/> (case-insensitive); a clear error for any other name.</summary>
    public static OcrOutputFormat Parse(string name) => name.ToLowerInvariant() switch
    {
        "text" or "txt" => OcrOutputFormat.Text,
        "json" => OcrOutputFormat.Json,
        "hocr" => OcrOutputFormat.Hocr,
        "alto" => OcrOutputFormat.Alto,
        "tsv" => OcrOutputFormat.Tsv,
        "pdf" => OcrOutputFormat.Pdf,
        _ => throw new TesseraException($"unknown output format \"{name}\": expected one of {Names}"),
    };
}
