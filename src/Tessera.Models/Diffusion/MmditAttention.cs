using Tessera.Formats;
using Tessera.Models.Nn;

namespace Tessera.Models.Diffusion;

/// <summary>MMDiT's joint attention (diffusers' Attention with JointAttnProcessor2_0): image tokens (to_q/k/v) and text
/// tokens (add_q/k/v_proj) are projected by their own weights, optionally RMS-normalised per head (SD3.5:
/// norm_q/norm_k, norm_added_q/norm_added_k), attend together over the joined sequence, and are split again: the
/// image part goes through to_out.0, the text part through to_add_out (absent in the last block, whose text output
/// is not used: context_pre_only).</summary>
public sealed class MmditAttention
{
    private readonly int _heads, _headDim;
    private readonly Linear _q, _k, _v, _addQ, _addK, _addV, _out;
    private readonly Linear? _addOut;
    private readonly RmsNorm? _normQ, _normK, _normAddedQ, _normAddedK;

    private MmditAttention(int heads, int headDim, Linear[] proj, Linear? addOut, RmsNorm?[] norms)
    {
        (_heads, _headDim) = (heads, headDim);
        (_q, _k, _v, _addQ, _addK, _addV, _out) = (proj[0], proj[1], proj[2], proj[3], proj[4], proj[5], proj[6]);
        _addOut = addOut;
        (_normQ, _normK, _normAddedQ, _normAddedK) = (norms[0], norms[1], norms[2], norms[3]);
    }

    /// <summary>Whether the text output is computed (false in the last block).</summary>
    public bool HasContextOutput => _addOut is not null;

    /// <summary>Loads attn.* of one block; <paramref name="contextPreOnly"/> marks the last block (no to_add_out).</summary>
    public static MmditAttention Load(WeightBuilder wb, MmditConfig config, bool contextPreOnly)
    {
        ArgumentNullException.ThrowIfNull(wb);
        ArgumentNullException.ThrowIfNull(config);
        int d = config.InnerDim, hd = config.AttentionHeadDim;
        Linear L(string name) => Linear.Load(wb.Pp(name), d, d);
        Linear[] proj = [L("to_q"), L("to_k"), L("to_v"), L("add_q_proj"), L("add_k_proj"), L("add_v_proj"), L("to_out.0")];
        var addOut = contextPreOnly ? null : L("to_add_out");
        var norms = new RmsNorm?[4];
        if (config.QkNorm == "rms_norm")
        {
            string[] names = ["norm_q", "norm_k", "norm_added_q", "norm_added_k"];
            for (int i = 0; i < 4; i++) norms[i] = RmsNorm.Load(wb.Pp(names[i]), hd, 1e-6f);
        }
        return new MmditAttention(config.NumAttentionHeads, hd, proj, addOut, norms);
    }

    /// <summary>Image tokens x [B, N, D] and text tokens c [B, T, D] attend jointly; returns the image output
    /// [B, N, D] and the text output [B, T, D] (null without to_add_out).</summary>
    public (Tensor Image, Tensor? Context) Forward(Tensor x, Tensor c)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(c);
        int b = x.Dim(0), n = x.Dim(1), t = c.Dim(1);
        Tensor o;
        using (var q = Joined(x, c, _q, _addQ, _normQ, _normAddedQ))
        using (var k = Joined(x, c, _k, _addK, _normK, _normAddedK))
        using (var v = Joined(x, c, _v, _addV, null, null))
            o = q.Attention(k, v, new AttentionOptions());                              // [B, H, N + T, hd]
        using (o)
        using (var ot = o.Permute(0, 2, 1, 3))
        using (var merged = ot.Reshape(b, n + t, _heads * _headDim))
        using (var image = merged.Narrow(1, 0, n))
        using (var text = merged.Narrow(1, n, t))
            return (_out.Forward(image), _addOut?.Forward(text));
    }

    // [B, H, N + T, hd]: the image tokens' projection then the text tokens' (diffusers' order; attention without a mask
    // or positions does not depend on it), each normalised per head when the checkpoint has the norms.
    private Tensor Joined(Tensor x, Tensor c, Linear image, Linear text, RmsNorm? imageNorm, RmsNorm? textNorm)
    {
        using var a = Heads(x, image, imageNorm);
        using var b = Heads(c, text, textNorm);
        return Tensor.Concat(2, a, b);
    }

    private Tensor Heads(Tensor x, Linear proj, RmsNorm? norm)
    {
        using var p = proj.Forward(x);
        using var h = p.Reshape(x.Dim(0), x.Dim(1), _heads, _headDim);
        using var normed = norm is null ? h.Share() : norm.Forward(h);
        return normed.Permute(0, 2, 1, 3);
    }
}
