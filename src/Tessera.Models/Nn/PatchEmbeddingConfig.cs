namespace Tessera.Models.Nn;

/// <summary>The shape and names of a <see cref="PatchEmbedding"/>.</summary>
/// <param name="Channels">Image channels.</param>
/// <param name="Dim">Embedding width.</param>
/// <param name="Patch">Patch size (the conv's kernel and stride).</param>
/// <param name="GridRows">Rows of the patch grid the position embeddings were trained at.</param>
/// <param name="GridCols">Columns of that grid.</param>
public sealed record PatchEmbeddingConfig(int Channels, int Dim, int Patch, int GridRows, int GridCols)
{
    /// <summary>Whether a class token is prepended (ViT, CLIP: yes; SigLIP: no).</summary>
    public bool ClassToken { get; init; } = true;

    /// <summary>Whether the patch projection has a bias (ViT, SigLIP: yes; CLIP: no).</summary>
    public bool ProjectionBias { get; init; } = true;

    /// <summary>Whether learned position embeddings are added.</summary>
    public bool Positions { get; init; } = true;

    /// <summary>The projection conv's prefix ("patch_embedding" in CLIP/SigLIP, "patch_embeddings.projection" in ViT).</summary>
    public string ProjectionName { get; init; } = "patch_embedding";

    /// <summary>The class token's name ("class_embedding" [D] in CLIP, "cls_token" [1, 1, D] in ViT).</summary>
    public string ClassTokenName { get; init; } = "class_embedding";

    /// <summary>The position table's name ("position_embedding.weight" [N, D] in CLIP/SigLIP, "position_embeddings"
    /// [1, N, D] in ViT); N counts the class token's row when there is one.</summary>
    public string PositionName { get; init; } = "position_embedding.weight";

    /// <summary>Hugging Face CLIP's names (patch_embedding without bias, class_embedding, position_embedding.weight).</summary>
    public static PatchEmbeddingConfig Clip(int channels, int dim, int patch, int grid) =>
        new(channels, dim, patch, grid, grid) { ProjectionBias = false };

    /// <summary>Hugging Face ViT's names (patch_embeddings.projection, cls_token, position_embeddings).</summary>
    public static PatchEmbeddingConfig Vit(int channels, int dim, int patch, int grid) =>
        new(channels, dim, patch, grid, grid)
        {
            ProjectionName = "patch_embeddings.projection", ClassTokenName = "cls_token", PositionName = "position_embeddings",
        };
}
