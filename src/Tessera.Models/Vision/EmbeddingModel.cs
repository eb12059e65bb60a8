using System.Text.Json;
using Tessera.Formats.Configs;
using Tessera.Formats.Tokenizers;
using Tessera.Imaging;
using Tessera.Models.Text;

namespace Tessera.Models.Vision;

/// <summary>A Hugging Face model directory opened by its <c>model_type</c> for the embedding tasks: CLIP and SigLIP
/// (images and texts in one space), ViT (images: the final layer-normed class token; its classifier) and BERT (texts:
/// mean-pooled sentence embeddings). Every embedding comes back L2-normalised, in input order, computed in batches.</summary>
public sealed class EmbeddingModel : IDisposable
{
    private readonly IDisposable _model;
    private readonly ClipTokenizer? _clipTokenizer;
    private readonly ITokenizer? _tokenizer;
    private readonly SiglipTokenizer? _siglipTokenizer;
    private readonly IBackend _backend;

    /// <summary>"clip", "siglip", "vit" or "bert".</summary>
    public string Kind { get; }

    /// <summary>The directory opened.</summary>
    public string Directory { get; }

    /// <summary>CLIP or SigLIP, else null.</summary>
    public IImageTextModel? ImageText => _model as IImageTextModel;

    /// <summary>CLIP or SigLIP with their per-patch and per-token vectors (ColPali-style retrieval), else null.</summary>
    public IMultiVectorModel? MultiVector => _model as IMultiVectorModel;

    /// <summary>The ViT, else null.</summary>
    public Vit? Vit => _model as Vit;

    /// <summary>The image processor (null for BERT).</summary>
    public ImageProcessorOptions? Processor { get; }

    /// <summary>Whether images can be embedded.</summary>
    public bool EmbedsImages => Processor is not null;

    /// <summary>Whether texts can be embedded.</summary>
    public bool EmbedsTexts => _clipTokenizer is not null || _tokenizer is not null || _siglipTokenizer is not null;

    private EmbeddingModel(string kind, string directory, IDisposable model, ImageProcessorOptions? processor, ClipTokenizer? clipTokenizer,
        ITokenizer? tokenizer, IBackend backend, SiglipTokenizer? siglipTokenizer = null) =>
        (Kind, Directory, _model, Processor, _clipTokenizer, _tokenizer, _backend, _siglipTokenizer) =
            (kind, directory, model, processor, clipTokenizer, tokenizer, backend, siglipTokenizer);

    /// <summary>Opens a model directory (config.json's model_type: clip, siglip, vit, deit, bert and BERT-family types);
    /// <paramref name="options"/> can quantize the linear weights at load (<see cref="VisionLoadOptions"/>).</summary>
    public static EmbeddingModel Open(IBackend backend, string directory, VisionLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(directory);
        if (!System.IO.Directory.Exists(directory)) throw new TesseraException($"{directory}: no such model directory");
        string kind = ModelType(directory);
        switch (kind)
        {
            case "clip":
            {
                var clip = Clip.Load(backend, directory, options);
                bool hasText = clip.Text is not null && File.Exists(Path.Combine(directory, "vocab.json"));
                return new("clip", directory, clip, VisionPreprocessing.ForModel(directory, "clip", clip.Config.VisionConfig.ImageSize),
                    hasText ? ClipTokenizer.Load(directory) : null, null, backend);
            }
            case "siglip":
            {
                var siglip = Siglip.Load(backend, directory, options);
                string json = Path.Combine(directory, "tokenizer.json"), spiece = Path.Combine(directory, "spiece.model");
                // A tokenizer.json when there is one, else the published spiece.model (SiglipTokenizer).
                bool text = siglip.Text is not null;
                return new("siglip", directory, siglip, VisionPreprocessing.ForModel(directory, "siglip", siglip.Config.VisionConfig.ImageSize),
                    null, text && File.Exists(json) ? Tokenizer.FromHuggingFace(json) : null, backend,
                    text && !File.Exists(json) && File.Exists(spiece) ? SiglipTokenizer.Load(spiece) : null);
            }
            case "vit" or "deit":
            {
                var vit = Vit.Load(backend, directory, options);
                return new("vit", directory, vit, VisionPreprocessing.ForModel(directory, "vit", vit.Config.ImageSize), null, null, backend);
            }
            case "bert":
            {
                var bert = Bert.Load(backend, directory, options);
                string vocab = Path.Combine(directory, "vocab.txt"), json = Path.Combine(directory, "tokenizer.json");
                ITokenizer tok = File.Exists(json) ? Tokenizer.FromHuggingFace(json)
                    : File.Exists(vocab) ? WordPieceVocabText.Load(vocab)
                    : throw new TesseraException($"{directory}: a BERT model needs tokenizer.json or vocab.txt");
                return new("bert", directory, bert, null, null, tok, backend);
            }
            default:
                throw new TesseraException($"{directory}: model_type '{kind}' is not an embedding model (clip, siglip, vit, deit, bert)");
        }
    }

    /// <summary>L2-normalised embeddings of image files, in order (image_embeds for CLIP and SigLIP; ViT's final
    /// layer-normed class token).</summary>
    public float[][] EmbedImages(IReadOnlyList<string> files, int batch = 8)
    {
        ArgumentNullException.ThrowIfNull(files);
        var processor = Processor ?? throw new TesseraException($"{Directory}: a {Kind} model does not embed images");
        var result = new List<float[]>(files.Count);
        for (int start = 0; start < files.Count; start += batch)
        {
            var images = files.Skip(start).Take(batch).Select(f => ImageDecoder.DecodeFile(f)).ToList();
            using var pixels = ImageProcessor.ToTensor(_backend, images, processor);
            using var e = ImageEmbeddings(pixels);
            result.AddRange(Rows(e));
        }
        return [.. result];
    }

    /// <summary>L2-normalised embeddings of texts, in order (text_embeds for CLIP and SigLIP; BERT's mean-pooled
    /// sentence embedding).</summary>
    public float[][] EmbedTexts(IReadOnlyList<string> texts, int batch = 32)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (!EmbedsTexts) throw new TesseraException($"{Directory}: this {Kind} model has no text tower or tokenizer (vocab.json/merges.txt for CLIP, tokenizer.json or spiece.model for SigLIP)");
        var result = new List<float[]>(texts.Count);
        for (int start = 0; start < texts.Count; start += batch)
        {
            var chunk = texts.Skip(start).Take(batch).ToList();
            using var e = TextEmbeddings(chunk);
            result.AddRange(Rows(e));
        }
        return [.. result];
    }

    /// <summary>Per image file, its L2-normalised patch vectors [patches][P] (<see cref="IMultiVectorModel"/>), in order.</summary>
    public float[][][] EmbedImagePatches(IReadOnlyList<string> files, int batch = 8)
    {
        ArgumentNullException.ThrowIfNull(files);
        var model = MultiVector ?? throw new TesseraException($"{Directory}: a {Kind} model has no per-patch vectors in a text space (multi-vector retrieval needs CLIP or SigLIP)");
        var result = new List<float[][]>(files.Count);
        for (int start = 0; start < files.Count; start += batch)
        {
            var images = files.Skip(start).Take(batch).Select(f => ImageDecoder.DecodeFile(f)).ToList();
            using var pixels = ImageProcessor.ToTensor(_backend, images, Processor!);
            using var e = model.ImagePatchEmbeddings(pixels);
            var all = e.ToFloatArray();
            int n = e.Dim(1), d = e.Dim(2);
            for (int i = 0; i < e.Dim(0); i++) result.Add(Matrix(all, i * n, n, d));
        }
        return [.. result];
    }

    /// <summary>Per text, its L2-normalised token vectors [tokens][P] (<see cref="IMultiVectorModel"/>): CLIP's tokens
    /// from start to end of text, SigLIP's tokens without the padding its tower is run with.</summary>
    public float[][][] EmbedTextTokens(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var model = MultiVector ?? throw new TesseraException($"{Directory}: a {Kind} model has no per-token vectors in an image space (multi-vector retrieval needs CLIP or SigLIP)");
        if (!EmbedsTexts) throw new TesseraException($"{Directory}: this {Kind} model has no text tower or tokenizer (vocab.json/merges.txt for CLIP, tokenizer.json or spiece.model for SigLIP)");
        var result = new List<float[][]>(texts.Count);
        foreach (var text in texts)
        {
            var (ids, length) = TextIdsOf(text);
            using var t = ids;
            using var e = model.TextTokenEmbeddings(t);
            result.Add(Matrix(e.ToFloatArray(), 0, length, e.Dim(2)));
        }
        return [.. result];
    }

    /// <summary>Class probabilities of image files from the ViT head: softmax over its id2label classes.</summary>
    public float[][] ClassifyImages(IReadOnlyList<string> files, int batch = 8)
    {
        var vit = Vit ?? throw new TesseraException($"{Directory}: only a ViT classifies with its own head");
        var result = new List<float[]>();
        for (int start = 0; start < files.Count; start += batch)
        {
            var images = files.Skip(start).Take(batch).Select(f => ImageDecoder.DecodeFile(f)).ToList();
            using var pixels = ImageProcessor.ToTensor(_backend, images, Processor!);
            using var logits = vit.Logits(pixels);
            using var p = logits.Softmax();
            result.AddRange(Rows(p));
        }
        return [.. result];
    }

    /// <summary>Frees the model.</summary>
    public void Dispose() => _model.Dispose();

    private Tensor ImageEmbeddings(Tensor pixels)
    {
        if (ImageText is { } pair) return pair.ImageEmbeddings(pixels);
        using var o = Vit!.Forward(pixels);
        return EmbeddingMath.L2Normalize(o.Pooled);
    }

    private Tensor TextEmbeddings(List<string> texts)
    {
        switch (_model)
        {
            case Clip clip:
            {
                int max = clip.Config.TextConfig.MaxPositionEmbeddings;
                var seqs = texts.Select(t => _clipTokenizer!.Encode(t, max)).ToList();
                using var ids = Pad(seqs, seqs.Max(s => s.Length), _clipTokenizer!.EosId);   // CLIP pads with end of text
                return clip.TextEmbeddings(ids);
            }
            case Siglip siglip:
            {
                // SigLIP was trained on texts padded to the full length, and pools the last position.
                int max = siglip.Config.TextConfig.MaxPositionEmbeddings;
                var seqs = texts.Select(t => SiglipIds(t, max)).ToList();
                using var ids = Pad(seqs, max, siglip.Config.TextConfig.PadTokenId);
                return siglip.TextEmbeddings(ids);
            }
            case Bert bert:
            {
                int max = bert.Config.MaxPositionEmbeddings;
                var seqs = texts.Select(t => Truncate(_tokenizer!.Encode(t), max)).ToList();
                return bert.SentenceEmbeddings(seqs);
            }
            default:
                throw new TesseraException($"{Directory}: a {Kind} model does not embed texts");
        }
    }

    // One text's ids [1, S] as its tower is run (CLIP: up to end of text; SigLIP: padded to its full length), and how
    // many of the positions are the text's own tokens.
    private (Tensor Ids, int Length) TextIdsOf(string text)
    {
        switch (_model)
        {
            case Clip clip:
            {
                var seq = _clipTokenizer!.Encode(text, clip.Config.TextConfig.MaxPositionEmbeddings);
                return (Pad([seq], seq.Length, _clipTokenizer.EosId), seq.Length);
            }
            case Siglip siglip:
            {
                int max = siglip.Config.TextConfig.MaxPositionEmbeddings;
                var seq = SiglipIds(text, max);
                if (seq.Length == 0) throw new TesseraException($"{Directory}: the text '{text}' has no tokens");
                return (Pad([seq], max, siglip.Config.TextConfig.PadTokenId), seq.Length);
            }
            default:
                throw new TesseraException($"{Directory}: a {Kind} model has no per-token vectors");
        }
    }

    // SigLIP's ids of a text, at most max: from tokenizer.json as it says, or from spiece.model cut to keep the final </s>.
    private int[] SiglipIds(string text, int max)
    {
        if (_siglipTokenizer is null) return [.. _tokenizer!.Encode(text).Take(max)];
        var ids = _siglipTokenizer.Encode(text);
        return ids.Length <= max ? ids : [.. ids.Take(max - 1), ids[^1]];
    }

    private static float[][] Matrix(float[] all, int firstRow, int rows, int d)
    {
        var m = new float[rows][];
        for (int r = 0; r < rows; r++) m[r] = all.AsSpan((firstRow + r) * d, d).ToArray();
        return m;
    }

    // [CLS] ... [SEP] cut to max tokens, keeping the final [SEP].
    private static int[] Truncate(int[] ids, int max) => ids.Length <= max ? ids : [.. ids.Take(max - 1), ids[^1]];

    private Tensor Pad(List<int[]> seqs, int length, int pad)
    {
        var flat = new int[seqs.Count * length];
        Array.Fill(flat, pad);
        for (int i = 0; i < seqs.Count; i++) seqs[i].CopyTo(flat, i * length);
        return Tensor.FromArray(_backend, flat, seqs.Count, length);
    }

    private static IEnumerable<float[]> Rows(Tensor t)
    {
        var all = t.ToFloatArray();
        int d = t.Dim(1);
        for (int i = 0; i < t.Dim(0); i++) yield return all.AsSpan(i * d, d).ToArray();
    }

    private static string ModelType(string directory)
    {
        string path = Path.Combine(directory, "config.json");
        if (!File.Exists(path)) throw new TesseraException($"{directory}: the model directory has no config.json");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return doc.RootElement.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!
                : throw new TesseraException($"{path}: no model_type");
        }
        catch (JsonException e) { throw new TesseraException($"{path}: not valid JSON: {e.Message}"); }
    }
}
