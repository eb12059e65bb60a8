using Tessera.Formats;

namespace Tessera.Models;

/// <summary>The decoder's view of a weight file: every tensor as stored (f16/bf16 projections are read in place by the
/// matmul, f32 activations in, f32 out), except an f16/bf16 token embedding, which is widened to f32 once, since its
/// rows are gathered into the f32 residual stream. The one f32 copy also serves a tied output projection.</summary>
internal sealed class LlamaWeightSource(IWeightSource inner, string embeddingName) : IWeightSource
{
    private Tensor? _embedding;

    /// <summary>The source read.</summary>
    public IWeightSource Inner => inner;

    public string Path => inner.Path;
    public string Format => inner.Format;
    public IReadOnlyList<string> Names => inner.Names;
    public IReadOnlyDictionary<string, object> Metadata => inner.Metadata;
    public bool Contains(string name) => inner.Contains(name);
    public TensorInfo Info(string name) => inner.Info(name);

    /// <summary>Whether the embedding of <paramref name="info"/> is widened: f16 or bf16.</summary>
    public static bool Widens(TensorInfo info) => info.DType is DType.F16 or DType.BF16;

    public Tensor Load(string name, IBackend backend)
    {
        if (name != embeddingName || !Widens(inner.Info(name))) return inner.Load(name, backend);
        if (_embedding is null || !ReferenceEquals(_embedding.Backend, backend))
        {
            using var stored = inner.Load(name, backend);
            var widened = stored.To(DType.F32);
            _embedding?.Dispose();
            _embedding = widened;
        }
        return _embedding.Share();
    }

    public void Dispose()
    {
        _embedding?.Dispose();
        inner.Dispose();
    }
}
