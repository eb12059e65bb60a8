namespace Tessera;

public sealed partial class Tensor
{
    /// <summary>Group normalisation (torch.nn.GroupNorm) of x [B, C, *spatial]: the channels split into
    /// <paramref name="groups"/> groups, each normalised by its mean and biased variance over its channels and
    /// positions, then channel c scaled by weight[c] and shifted by bias[c] (each [C] or null).</summary>
    public Tensor GroupNorm(int groups, Tensor? weight, Tensor? bias, float eps = 1e-5f)
    {
        RequireFloat("group_norm");
        if (Rank < 2) throw new TesseraException($"group_norm needs x [B, C, ...], got {Shape}");
        int c = Shape[1];
        if (groups <= 0 || c % groups != 0)
            throw new TesseraException($"group_norm: {c} channels of x {Shape} do not split into {groups} groups");
        CheckVector("group_norm weight", weight, c);
        CheckVector("group_norm bias", bias, c);
        var dst = NewLike(Shape);
        Backend.GroupNorm(this, groups, weight, bias, eps, dst);
        return dst;
    }
}
