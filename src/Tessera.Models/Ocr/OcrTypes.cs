using Tessera.Imaging;
using System.Runtime.CompilerServices;

// The OCR geometry and post-processing are internal; their tests check them directly.
[assembly: InternalsVisibleTo("Tessera.Models.Tests")]

namespace Tessera.Models.Ocr;

/// <summary>A point in image pixel coordinates (x to the right, y down).</summary>
/// <param name="X">Column.</param>
/// <param name="Y">Row.</param>
public readonly record struct OcrPoint(float X, float Y);

/// <summary>One recognised text line.</summary>
/// <param name="Text">The decoded text (empty in detection-only mode).</param>
/// <param name="Confidence">The recogniser's mean probability of the kept CTC steps: on the greedy path, or with a
/// beam search on the decoded text's most probable alignment (the detector's box score in detection-only mode).</param>
/// <param name="Box">The line's quadrilateral in the original image: top-left first, then clockwise.</param>
public sealed record OcrLine(string Text, float Confidence, IReadOnlyList<OcrPoint> Box)
{
    /// <summary>The line's words in reading order, with boxes and confidences (empty in detection-only mode). When
    /// none were given, the whole line is one word (its text, confidence and bounds).</summary>
    public IReadOnlyList<OcrWord> Words
    {
        get => _words ?? (Text.Length == 0 ? [] : [new OcrWord(Text, Confidence, Bounds)]);
        init => _words = value;
    }

    private readonly IReadOnlyList<OcrWord>? _words;

    /// <summary>The recogniser's raw CTC text, before word spacing (null when not recognised; then take
    /// <see cref="Text"/>).</summary>
    public string? RawText { get; init; }

    /// <summary>The axis-aligned rectangle holding <see cref="Box"/>, in page pixels.</summary>
    public OcrBox Bounds => OcrBox.Enclosing(Box);
}

/// <summary>Wall-clock milliseconds of each stage of one <see cref="OcrPipeline.Run(Image, CancellationToken)"/>.</summary>
/// <param name="DetectionMs">Detection: resize, network and DB post-processing (0 in recognition-only mode).</param>
/// <param name="ClassificationMs">Direction classification (0 when it is off).</param>
/// <param name="RecognitionMs">Cropping and recognition of all lines.</param>
/// <param name="TotalMs">The whole run.</param>
public sealed record OcrTimings(double DetectionMs, double ClassificationMs, double RecognitionMs, double TotalMs);

/// <summary>What <see cref="OcrPipeline"/> found in one image: its lines in reading order, and the time taken.</summary>
/// <param name="Lines">All lines in reading order, flattened from <see cref="Blocks"/>.</param>
/// <param name="Timings">Per-stage timings.</param>
public sealed record OcrResult(IReadOnlyList<OcrLine> Lines, OcrTimings Timings)
{
    /// <summary>The page's blocks in reading order; their lines, in order, are <see cref="Lines"/>. When none were
    /// given, all lines form one block (none when there are no lines).</summary>
    public IReadOnlyList<OcrBlock> Blocks
    {
        get => _blocks ?? (Lines.Count == 0 ? [] : [OcrBlock.Of(Lines)]);
        init => _blocks = value;
    }

    private readonly IReadOnlyList<OcrBlock>? _blocks;

    /// <summary>The skew the page was read at, in degrees (lines running down to the right are positive; 0 when it
    /// was read as given, <see cref="OcrOptions.Deskew"/>). Boxes are in the image as given.</summary>
    public double SkewDegrees { get; init; }

    /// <summary>The page image's width in pixels (0 when unknown).</summary>
    public int PageWidth { get; init; }

    /// <summary>The page image's height in pixels (0 when unknown).</summary>
    public int PageHeight { get; init; }
}

/// <summary>The pipeline's settings, with PaddleOCR's defaults (tools/infer/utility.py).</summary>
public sealed record OcrOptions
{
    /// <summary>The detector input's side limit (det_limit_side_len).</summary>
    public int DetLimitSideLen { get; init; } = 960;

    /// <summary>"max": the longer side is scaled down to at most <see cref="DetLimitSideLen"/>; "min": the shorter side
    /// is scaled up to at least it (det_limit_type).</summary>
    public string DetLimitType { get; init; } = "max";

    /// <summary>Probability above which a map pixel is text (det_db_thresh).</summary>
    public float DetThresh { get; init; } = 0.3f;

    /// <summary>Mean probability inside a box below which it is dropped (det_db_box_thresh).</summary>
    public float DetBoxThresh { get; init; } = 0.6f;

    /// <summary>How far a box is grown: by area * ratio / perimeter on each side (det_db_unclip_ratio).</summary>
    public float DetUnclipRatio { get; init; } = 1.5f;

    /// <summary>At most this many regions of the map are considered (max_candidates).</summary>
    public int DetMaxCandidates { get; init; } = 1000;

    /// <summary>How far each detected box is grown along its line before cropping, at each end, as a fraction of the
    /// box's thickness (not in PaddleOCR, which crops the box itself: its boxes may end on the last glyph's edge, and
    /// a final "r" was read as "l", a final full stop dropped). 0 crops the box as detected. The default, about a
    /// glyph's side bearing, was chosen from 0, 0.1 and 0.2 on <c>peer ocr-doc</c>'s pages: 0.2 reached into the
    /// whitespace enough to shift the CTC alignment and with it a few word gaps.</summary>
    public double CropPadding { get; init; } = 0.1;

    /// <summary>Whether to classify each crop as upright or upside down and turn the latter (use_angle_cls).</summary>
    public bool UseAngleClassifier { get; init; }

    /// <summary>Score above which a crop classified as 180 degrees is turned (cls_thresh).</summary>
    public float ClsThresh { get; init; } = 0.9f;

    /// <summary>Crops per classifier batch (cls_batch_num).</summary>
    public int ClsBatchSize { get; init; } = 6;

    /// <summary>Crops per recogniser batch, grouped by similar width (rec_batch_num).</summary>
    public int RecBatchSize { get; init; } = 6;

    /// <summary>Lines whose recognition confidence is below this are dropped (drop_score).</summary>
    public float DropScore { get; init; } = 0.5f;

    /// <summary>CTC decoding of the recogniser's output: 1 decodes greedily (PaddleOCR's CTCLabelDecode, the best
    /// class at each step); a larger value runs a prefix beam search keeping that many prefixes
    /// (<see cref="CtcBeamSearch"/>), whose confidence is comparable with the greedy one for <see cref="DropScore"/>.</summary>
    public int BeamWidth { get; init; } = 1;

    /// <summary>Which spaces the lines' text keeps (<see cref="SpacingMode"/>): by default the recogniser's own plus
    /// those found from the CTC alignment on Latin-script lines (<see cref="WordSpacing"/>).</summary>
    public SpacingMode Spacing { get; init; } = SpacingMode.Auto;

    /// <summary>How lines are grouped into blocks and ordered (<see cref="Layout.LayoutMode"/>; Tesseract's page
    /// segmentation modes): XY-Cut blocks and columns by default; <see cref="Layout.LayoutMode.SingleLine"/> reads the
    /// whole image as one line, as <see cref="RecognitionOnly"/> does.</summary>
    public Layout.LayoutMode Layout { get; init; } = Ocr.Layout.LayoutMode.Auto;

    /// <summary>The recogniser's language, a name in the model directory's manifest (<see cref="OcrModelManifest"/>);
    /// null takes its default language. Read by <see cref="OcrPipeline.Load"/>.</summary>
    public string? Language { get; init; }

    /// <summary>A character dictionary to load the recogniser with instead of its language's (a path, or a file name in
    /// the model directory); null takes the manifest's. Read by <see cref="OcrPipeline.Load"/>.</summary>
    public string? DictionaryPath { get; init; }

    /// <summary>With the <see cref="Layout.LayoutMode.Auto"/> layout, a page whose lines slope by
    /// <see cref="Layout.PageSkew.MinDegrees"/> to <see cref="Layout.PageSkew.MaxDegrees"/> degrees is straightened:
    /// its lines are detected again on the page turned back and ordered in that frame (a second detection, only on
    /// such pages). On by default.</summary>
    public bool Deskew { get; init; } = true;

    /// <summary>Only detect: return boxes without text.</summary>
    public bool DetectionOnly { get; init; }

    /// <summary>Only recognise: treat the whole image as one text line.</summary>
    public bool RecognitionOnly { get; init; }

    // Whether the whole image is read as one line.
    internal bool ReadsOneLine => RecognitionOnly || Layout == Ocr.Layout.LayoutMode.SingleLine;

    internal void Validate()
    {
        if (DetectionOnly && Layout == Ocr.Layout.LayoutMode.SingleLine)
            throw new TesseraException("OCR options: detection-only and the single-line layout cannot both be set");
        if (DetectionOnly && RecognitionOnly)
            throw new TesseraException("OCR options: detection-only and recognition-only cannot both be set");
        if (DetLimitSideLen < 32) throw new TesseraException($"OCR options: DetLimitSideLen must be at least 32, got {DetLimitSideLen}");
        if (DetLimitType is not ("max" or "min")) throw new TesseraException($"OCR options: DetLimitType must be \"max\" or \"min\", got \"{DetLimitType}\"");
        if (RecBatchSize < 1 || ClsBatchSize < 1) throw new TesseraException($"OCR options: batch sizes must be positive, got rec {RecBatchSize}, cls {ClsBatchSize}");
        if (DetMaxCandidates < 1) throw new TesseraException($"OCR options: DetMaxCandidates must be positive, got {DetMaxCandidates}");
        if (BeamWidth is < 1 or > 1000) throw new TesseraException($"OCR options: BeamWidth must be 1 (greedy) to 1000, got {BeamWidth}");
        if (CropPadding is < 0 or > 2 || double.IsNaN(CropPadding)) throw new TesseraException($"OCR options: CropPadding must be 0 to 2, got {CropPadding}");
        if (DetUnclipRatio <= 0) throw new TesseraException($"OCR options: DetUnclipRatio must be positive, got {DetUnclipRatio}");
    }
}

/// <summary>A text detector: a normalised image [1, 3, H, W] (H and W multiples of 32) to a text probability map
/// [1, 1, H, W]. PP-OCR's DB detector implements it through an adapter (see OcrModelLoaders).</summary>
public interface ITextDetector : IDisposable
{
    /// <summary>The probability map of <paramref name="image"/>.</summary>
    Tensor Forward(Tensor image);
}

/// <summary>A text direction classifier: crops [B, 3, 48, 192] normalised to (x / 255 - 0.5) / 0.5, to probabilities
/// [B, 2] of 0 and 180 degrees.</summary>
public interface IDirectionClassifier : IDisposable
{
    /// <summary>The probabilities of each crop being upright (column 0) or upside down (column 1).</summary>
    Tensor Forward(Tensor batch);
}

/// <summary>A CTC text-line recogniser: crops [B, 3, <see cref="ImageHeight"/>, W] in B, G, R order normalised to
/// (x / 255 - 0.5) / 0.5 (<see cref="PpOcrPreprocess.Batch"/>), to per-step class probabilities [B, T, classes],
/// class 0 the CTC blank. The pipeline preprocesses and decodes; PP-OCR's recogniser implements it through an adapter
/// (see OcrModelLoaders), and another engine can run the same network behind it.</summary>
public interface ITextRecognizer : IDisposable
{
    /// <summary>The class labels: index 0 is the blank (""), the rest the characters each class decodes to.</summary>
    IReadOnlyList<string> Characters { get; }

    /// <summary>The input height every crop is resized to (48 for PP-OCR).</summary>
    int ImageHeight { get; }

    /// <summary>The narrowest batch width (PaddleOCR's 320); wider crops widen the batch.</summary>
    int MinImageWidth { get; }

    /// <summary>The class probabilities [B, T, <see cref="Characters"/>.Count] of a normalised batch.</summary>
    Tensor Forward(Tensor batch);
}
