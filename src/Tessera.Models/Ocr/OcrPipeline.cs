using System.Diagnostics;
using Tessera.Imaging;
using Tessera.Models.Ocr.Layout;

namespace Tessera.Models.Ocr;

/// <summary>PaddleOCR's text system (tools/infer/predict_system.py) on Tessera: detect text boxes with the DB
/// detector, put them in reading order, crop each by a perspective warp (the box grown a little along its line,
/// <see cref="OcrOptions.CropPadding"/>), optionally turn upside-down crops with the
/// direction classifier, recognise the crops in batches of similar width, and drop lines of low confidence.</summary>
public sealed class OcrPipeline : IDisposable
{
    /// <summary>The detector's file name in a model directory without a manifest (<see cref="OcrModelManifest"/>).</summary>
    public const string DetectorFile = "ch_PP-OCRv4_det_infer.onnx";

    /// <summary>The recogniser's file name in a model directory without a manifest.</summary>
    public const string RecognizerFile = "ch_PP-OCRv4_rec_infer.onnx";

    /// <summary>The direction classifier's file name in a model directory without a manifest.</summary>
    public const string ClassifierFile = "ch_ppocr_mobile_v2.0_cls_infer.onnx";

    /// <summary>The recogniser's character dictionary's file name in a model directory without a manifest.</summary>
    public const string DictionaryFile = "ppocr_keys_v1.txt";

    private readonly IBackend _backend;
    private readonly ITextRecognizer? _rec;
    private readonly ITextDetector? _det;
    private readonly IDirectionClassifier? _cls;
    private readonly bool _owns;

    /// <summary>A pipeline over PP-OCR's recogniser and models already loaded; see the
    /// <see cref="ITextRecognizer"/> overload.</summary>
    public OcrPipeline(IBackend backend, OcrOptions options, PpOcrRecognizer? recognizer, ITextDetector? detector,
        IDirectionClassifier? classifier = null, bool ownsModels = true)
        : this(backend, options, recognizer is null ? null : OcrModelLoaders.AsTextRecognizer(recognizer), detector, classifier, ownsModels)
    {
    }

    /// <summary>A pipeline over models already loaded. The recogniser is needed unless detecting only, the detector
    /// unless recognising only, the classifier only when <see cref="OcrOptions.UseAngleClassifier"/> is set (it is
    /// skipped when null). With <paramref name="ownsModels"/>, <see cref="Dispose"/> disposes them.</summary>
    public OcrPipeline(IBackend backend, OcrOptions options, ITextRecognizer? recognizer, ITextDetector? detector,
        IDirectionClassifier? classifier = null, bool ownsModels = true)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!options.DetectionOnly && recognizer is null) throw new TesseraException("OCR pipeline: a recogniser is needed unless detecting only");
        if (!options.ReadsOneLine && detector is null) throw new TesseraException("OCR pipeline: a detector is needed unless recognising only");
        _backend = backend;
        Options = options;
        _rec = recognizer;
        _det = detector;
        _cls = classifier;
        _owns = ownsModels;
    }

    /// <summary>The settings this pipeline runs with.</summary>
    public OcrOptions Options { get; }

    /// <summary>Loads the models a run with <paramref name="options"/> needs from <paramref name="modelDir"/>: the
    /// files its <c>manifest.json</c> names (<see cref="OcrModelManifest"/>; PaddleOCR's default names, this class's
    /// constants, without one), the recogniser of <see cref="OcrOptions.Language"/> with its dictionary or
    /// <see cref="OcrOptions.DictionaryPath"/>.</summary>
    public static OcrPipeline Load(string modelDir, IBackend backend, OcrOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!Directory.Exists(modelDir)) throw new TesseraException($"OCR model directory not found: {modelDir}");
        var manifest = OcrModelManifest.Load(modelDir);
        var recEntry = manifest.Recognizer(options.Language);
        string Need(string file)
        {
            string p = Path.Combine(modelDir, file);
            if (!File.Exists(p)) throw new TesseraException($"OCR model file missing: {p}");
            return p;
        }
        // --dict: a path as given, else a file in the model directory.
        string Dictionary() => options.DictionaryPath is not { } d ? Need(recEntry.Dictionary)
            : File.Exists(d) ? d : File.Exists(Path.Combine(modelDir, d)) ? Path.Combine(modelDir, d)
            : throw new TesseraException($"OCR dictionary not found: {d} (nor in {modelDir})");
        ITextRecognizer? rec = null;
        ITextDetector? det = null;
        IDirectionClassifier? cls = null;
        try
        {
            if (!options.DetectionOnly) rec = OcrModelLoaders.LoadRecognizer(Need(recEntry.Model), Dictionary(), backend);
            if (!options.ReadsOneLine) det = OcrModelLoaders.LoadDetector(Need(manifest.Detector), backend);
            if (options.UseAngleClassifier && !options.DetectionOnly)
                cls = OcrModelLoaders.LoadClassifier(Need(manifest.Classifier
                    ?? throw new TesseraException($"OCR model manifest in {modelDir} names no classifier, which --cls needs")), backend);
            return new OcrPipeline(backend, options, rec, det, cls);
        }
        catch
        {
            rec?.Dispose();
            det?.Dispose();
            cls?.Dispose();
            throw;
        }
    }

    /// <summary>Reads the text of an image: its lines in reading order, with boxes, confidences and timings.
    /// <paramref name="cancellationToken"/> is checked between the stages and between the classifier's and the
    /// recogniser's batches; a cancelled run throws <see cref="OperationCanceledException"/> with every tensor it
    /// made disposed.</summary>
    public OcrResult Run(Image image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        cancellationToken.ThrowIfCancellationRequested();
        var total = Stopwatch.StartNew();
        var bgr = OcrImageOps.ToBgr(image);
        double detMs = 0, clsMs = 0;

        List<DetectedBox> boxes;
        List<OcrBox>? straight = null;      // the boxes in the straightened page, when deskewed
        double skew = 0;
        if (Options.ReadsOneLine)
        {
            int w = bgr.Width, h = bgr.Height;
            boxes = [new DetectedBox([new P(0, 0), new P(w, 0), new P(w, h), new P(0, h)], 1f)];
        }
        else
        {
            var sw = Stopwatch.StartNew();
            boxes = Detect(bgr);
            cancellationToken.ThrowIfCancellationRequested();
            if (Options.Deskew && Options.Layout == LayoutMode.Auto && PageSkew.Degrees(boxes) is { } degrees)
            {
                // Find the lines again on the page turned straight; crop them from the page as given, through their
                // boxes turned back, and order them by their straight boxes.
                skew = degrees;
                var found = Detect(ImageRotation.Rotate(bgr, degrees));
                cancellationToken.ThrowIfCancellationRequested();
                straight = found.Select(b => OcrBox.Enclosing(ToPoints(b.Points))).ToList();
                boxes = found.Select(b => b with { Points = b.Points.Select(q => PageSkew.ToUnturned(q, degrees, bgr.Width, bgr.Height)).ToArray() }).ToList();
            }
            detMs = sw.Elapsed.TotalMilliseconds;
            if (Options.DetectionOnly)
            {
                var found = boxes.Select(b => new OcrLine("", b.Score, ToPoints(b.Points))).ToList();
                return Page(found, straight, skew, new OcrTimings(detMs, 0, 0, total.Elapsed.TotalMilliseconds), bgr);
            }
        }

        var recWatch = Stopwatch.StartNew();
        // Each line is read from its box grown a little along the line (OcrOptions.CropPadding); its words are placed
        // on the page through the grown box, the line keeps the detected one.
        var quads = Options.ReadsOneLine || Options.CropPadding == 0 ? boxes.Select(b => b.Points).ToList() : Padded(boxes, bgr);
        var crops = Options.ReadsOneLine ? [bgr] : quads.Select(q => OcrImageOps.CropQuad(bgr, q)).ToList();
        double cropMs = recWatch.Elapsed.TotalMilliseconds;
        var turned180 = new bool[crops.Count];
        if (Options.UseAngleClassifier && _cls is not null && crops.Count > 0)
        {
            var sw = Stopwatch.StartNew();
            Classify(crops, turned180, cancellationToken);
            clsMs = sw.Elapsed.TotalMilliseconds;
        }
        recWatch.Restart();
        var texts = Recognize(crops, cancellationToken);

        var lines = new List<OcrLine>();
        var kept = new List<OcrBox>();
        for (int i = 0; i < boxes.Count; i++)
        {
            // predict_system keeps lines scoring at least drop_score; a recognition-only run keeps its one line.
            var (aligned, columnsPerFrame) = texts[i];
            if (!Options.ReadsOneLine && aligned.Confidence < Options.DropScore) continue;
            if (straight is not null) kept.Add(straight[i]);
            var spaced = WordSpacing.Apply(crops[i], aligned, _rec!.Characters, columnsPerFrame, Options.Spacing);
            var quad = quads[i];
            bool turned90 = !Options.ReadsOneLine && OcrImageOps.CropTurns(quad);
            var line = new OcrLine(spaced.Text, aligned.Confidence, ToPoints(boxes[i].Points)) { RawText = aligned.Text };
            // Words found in the padding (a glyph's edge past the detected box) are kept inside the line's box.
            var words = spaced.Words.Select(w => new OcrWord(w.Text, w.Confidence,
                OcrImageOps.CropColumnsToPage(quad, turned90, turned180[i], crops[i].Width, w.Left, w.Right).Within(line.Bounds))).ToArray();
            lines.Add(line with { Words = words });
        }
        if (!Options.ReadsOneLine) (lines, kept) = WithoutDoubleReads(lines, kept, straight is not null);
        double recMs = cropMs + recWatch.Elapsed.TotalMilliseconds;
        return Page(lines, straight is null ? null : kept, skew, new OcrTimings(detMs, clsMs, recMs, total.Elapsed.TotalMilliseconds), bgr);
    }

    // The lines with the words two overlapping boxes of a row both read removed once (RowOverlap), and any line left
    // empty dropped, with its straightened box when deskewed.
    private static (List<OcrLine> Lines, List<OcrBox> Straight) WithoutDoubleReads(List<OcrLine> lines, List<OcrBox> straight, bool deskewed)
    {
        var cleaned = RowOverlap.RemoveDoubleReads(lines);
        var keep = Enumerable.Range(0, cleaned.Count).Where(i => cleaned[i].Text.Length > 0 || lines[i].Text.Length == 0).ToList();
        return (keep.Select(i => cleaned[i]).ToList(), deskewed ? keep.Select(i => straight[i]).ToList() : straight);
    }

    // The page's result: its lines in blocks (Options.Layout; ordered by their straightened boxes when deskewed),
    // both in reading order, and its size.
    private OcrResult Page(List<OcrLine> lines, List<OcrBox>? straight, double skew, OcrTimings timings, Image page)
    {
        var blocks = PageLayout.Arrange(lines, Options.Layout, straight);
        return new(blocks.SelectMany(b => b.Lines).ToList(), timings)
        {
            Blocks = blocks,
            PageWidth = page.Width,
            PageHeight = page.Height,
            SkewDegrees = skew,
        };
    }

    // Each box grown along its line by Options.CropPadding, but at most halfway to the nearest box of its row on
    // either side: DB splits a justified line at its wide spaces into boxes that nearly touch, and a crop reaching
    // into its neighbour would read the neighbour's first or last character again.
    private List<P[]> Padded(List<DetectedBox> boxes, Image page)
    {
        var bounds = boxes.Select(b => OcrBox.Enclosing(ToPoints(b.Points))).ToList();
        var result = new List<P[]>(boxes.Count);
        for (int i = 0; i < boxes.Count; i++)
        {
            var a = bounds[i];
            double before = double.PositiveInfinity, after = double.PositiveInfinity;
            // Rows are horizontal: a vertical line's crop grows as far as asked.
            for (int j = 0; j < boxes.Count && !OcrImageOps.CropTurns(boxes[i].Points); j++)
            {
                var b = bounds[j];
                if (j == i || Math.Min(a.Bottom, b.Bottom) - Math.Max(a.Y, b.Y) < 0.5 * Math.Min(a.Height, b.Height)) continue;
                if (b.X + b.Width / 2.0 < a.X + a.Width / 2.0) before = Math.Min(before, (a.X - b.Right) / 2.0);
                else after = Math.Min(after, (b.X - a.Right) / 2.0);
            }
            result.Add(OcrImageOps.PadAlongLine(boxes[i].Points, Options.CropPadding, page.Width, page.Height, before, after));
        }
        return result;
    }

    private List<DetectedBox> Detect(Image bgr)
    {
        using var input = OcrImageOps.DetInput(_backend, bgr, Options, out int w, out int h);
        using var map = _det!.Forward(input);
        if (map.Rank != 4 || map.Shape[0] != 1 || map.Shape[1] != 1 || map.Shape[2] != h || map.Shape[3] != w)
            throw new TesseraException($"OCR detector: expected a probability map [1, 1, {h}, {w}], got {map.Shape}");
        var prob = map.ToFloatArray();
        var boxes = DbPostProcess.Boxes(prob, w, h, bgr.Width, bgr.Height, Options);
        return OcrGeometry.ReadingOrder(boxes, b => b.Points[0]);
    }

    // predict_cls: batches of cls_batch_num crops; a crop whose best label is 180 degrees with a probability above
    // cls_thresh is turned.
    private void Classify(List<Image> crops, bool[] turned, CancellationToken cancellationToken)
    {
        for (int start = 0; start < crops.Count; start += Options.ClsBatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = Math.Min(Options.ClsBatchSize, crops.Count - start);
            using var batch = OcrImageOps.ClsBatch(_backend, crops.GetRange(start, n));
            using var probs = _cls!.Forward(batch);
            if (probs.Rank != 2 || probs.Shape[0] != n || probs.Shape[1] != 2)
                throw new TesseraException($"OCR direction classifier: expected probabilities [{n}, 2], got {probs.Shape}");
            var p = probs.ToFloatArray();
            for (int i = 0; i < n; i++)
                if (p[2 * i + 1] > p[2 * i] && p[2 * i + 1] > Options.ClsThresh)
                {
                    crops[start + i] = OcrImageOps.Rotate180(crops[start + i]);
                    turned[start + i] = true;
                }
        }
    }

    // predict_rec: crops sorted by width / height so that a batch (rec_batch_num) pads little, each batch as wide
    // as its widest crop needs; results returned in the crops' order. Decoding is greedy or a beam search, keeping
    // the alignment; with each line comes its crop's columns per CTC step: the batch's columns per step (W / T, 8 for
    // PP-OCR) scaled from the crop resized to the recogniser's height back to the crop.
    private (AlignedText Text, float ColumnsPerFrame)[] Recognize(List<Image> crops, CancellationToken cancellationToken)
    {
        var result = new (AlignedText, float)[crops.Count];
        var order = Enumerable.Range(0, crops.Count).OrderBy(i => (double)crops[i].Width / crops[i].Height).ToArray();
        for (int start = 0; start < order.Length; start += Options.RecBatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var idx = order.AsSpan(start, Math.Min(Options.RecBatchSize, order.Length - start)).ToArray();
            var group = idx.Select(i => crops[i]).ToList();
            int height = _rec!.ImageHeight, width = PpOcrPreprocess.BatchWidth(group, height, _rec.MinImageWidth);
            using var batch = PpOcrPreprocess.Batch(_backend, group, height, _rec.MinImageWidth);
            using var probs = _rec.Forward(batch);
            var texts = Decode(probs, idx.Length);
            for (int k = 0; k < idx.Length; k++)
            {
                var crop = crops[idx[k]];
                // As PpOcrPreprocess.Batch resizes it.
                double resized = Math.Min(width, Math.Ceiling(height * (double)crop.Width / crop.Height));
                float perFrame = (float)((double)width / Math.Max(texts[k].Frames, 1) * crop.Width / resized);
                result[idx[k]] = (texts[k], perFrame);
            }
        }
        return result;
    }

    private AlignedText[] Decode(Tensor probs, int lines)
    {
        var chars = _rec!.Characters;
        if (probs.Rank != 3 || probs.Shape[0] != lines || probs.Shape[2] != chars.Count)
            throw new TesseraException($"OCR recogniser: expected probabilities [{lines}, T, {chars.Count}], got {probs.Shape}");
        return Options.BeamWidth == 1
            ? CtcAlignment.Greedy(probs, chars)
            : CtcBeamSearch.DecodeAligned(probs, chars, Options.BeamWidth);
    }

    private static OcrPoint[] ToPoints(P[] pts) => pts.Select(p => new OcrPoint((float)p.X, (float)p.Y)).ToArray();

    /// <summary>Disposes the models, when this pipeline owns them.</summary>
    public void Dispose()
    {
        if (!_owns) return;
        _rec?.Dispose();
        _det?.Dispose();
        _cls?.Dispose();
    }
}
