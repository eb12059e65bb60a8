namespace Tessera.Tests.Reference;

/// <summary>The image ops of the reference: convolution by its seven-loop textbook definition, patch
/// embedding by its own definition (not through the convolution, so each checks the other), and
/// bicubic resampling exactly as PyTorch's upsample_bicubic2d defines it.</summary>
public static class NaiveImageOps
{
    /// <summary>Output size along one axis: floor((in + 2 pad - dil (k - 1) - 1) / stride) + 1.</summary>
    public static int ConvOutputSize(int input, int kernel, int stride, int pad, int dilation) =>
        (input + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;

    /// <summary>NCHW convolution: x [B, C, H, W], w [O, C/groups, kH, kW], bias [O] or null.
    /// out[b, o, oy, ox] = bias[o] + sum over the input channels c of o's group and kernel taps (ky, kx) of
    /// w[o, c, ky, kx] * x[b, g*C/groups + c, oy*sH - pH + ky*dH, ox*sW - pW + kx*dW], zero outside the image.</summary>
    public static Nd Conv2d(Nd x, Nd w, Nd? bias, Conv2dParams p)
    {
        int batch = x.Shape[0], cin = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int cout = w.Shape[0], cpg = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        int opg = cout / p.Groups;
        if (cpg * p.Groups != cin) throw new ArgumentException("weight does not match groups");
        int oh = ConvOutputSize(h, kh, p.StrideH, p.PadH, p.DilationH);
        int ow = ConvOutputSize(wd, kw, p.StrideW, p.PadW, p.DilationW);
        var r = Nd.Zeros(batch, cout, oh, ow);
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        int g = o / opg;
                        double acc = bias?.Data[o] ?? 0;
                        for (int c = 0; c < cpg; c++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int iy = oy * p.StrideH - p.PadH + ky * p.DilationH;
                                    int ix = ox * p.StrideW - p.PadW + kx * p.DilationW;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    acc += w[o, c, ky, kx] * x[b, g * cpg + c, iy, ix];
                                }
                        r[b, o, oy, ox] = NaiveOps.Activate(p.Activation, acc) * p.OutScale + p.OutShift;
                    }
        return r;
    }

    /// <summary>ViT patch embedding: x [B, C, H, W], w [D, C, P, P] -> [B, (H/P)(W/P), D] with
    /// out[b, py*Wp + px, d] = bias[d] + sum_{c, ky, kx} w[d, c, ky, kx] x[b, c, py*P + ky, px*P + kx].</summary>
    public static Nd PatchEmbed(Nd x, Nd w, Nd? bias, int patch)
    {
        int batch = x.Shape[0], cin = x.Shape[1], hp = x.Shape[2] / patch, wp = x.Shape[3] / patch, dim = w.Shape[0];
        var r = Nd.Zeros(batch, hp * wp, dim);
        for (int b = 0; b < batch; b++)
            for (int py = 0; py < hp; py++)
                for (int px = 0; px < wp; px++)
                    for (int d = 0; d < dim; d++)
                    {
                        double acc = bias?.Data[d] ?? 0;
                        for (int c = 0; c < cin; c++)
                            for (int ky = 0; ky < patch; ky++)
                                for (int kx = 0; kx < patch; kx++)
                                    acc += w[d, c, ky, kx] * x[b, c, py * patch + ky, px * patch + kx];
                        r[b, py * wp + px, d] = acc;
                    }
        return r;
    }

    /// <summary>PyTorch's bicubic constant.</summary>
    public const double A = -0.75;

    /// <summary>Keys' cubic convolution kernel for |t| &lt;= 1.</summary>
    public static double CubicNear(double t) => ((A + 2) * t - (A + 3)) * t * t + 1;

    /// <summary>Keys' cubic convolution kernel for 1 &lt; |t| &lt; 2.</summary>
    public static double CubicFar(double t) => ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;

    /// <summary>Where output pixel <paramref name="dst"/> samples the input, as PyTorch's
    /// area_pixel_compute_source_index with cubic = true (no clamping at 0 for align_corners = false).</summary>
    public static double SourceIndex(int dst, int inSize, int outSize, bool alignCorners)
    {
        if (alignCorners) return outSize > 1 ? dst * (double)(inSize - 1) / (outSize - 1) : 0;
        return (dst + 0.5) * inSize / outSize - 0.5;
    }

    /// <summary>The four taps (first index, clamping is the caller's) and weights of one output coordinate.</summary>
    public static (int First, double[] Weights) Taps(int dst, int inSize, int outSize, bool alignCorners)
    {
        double src = SourceIndex(dst, inSize, outSize, alignCorners);
        int i = (int)Math.Floor(src);
        double t = src - i;
        return (i - 1, [CubicFar(t + 1), CubicNear(t), CubicNear(1 - t), CubicFar(2 - t)]);
    }

    /// <summary>Bicubic resize of x [B, C, H, W] to [B, C, outH, outW], as torch.nn.functional.interpolate(
    /// mode="bicubic"): separable 4x4 taps at indices clamped to [0, in - 1].</summary>
    public static Nd Bicubic(Nd x, int outH, int outW, bool alignCorners)
    {
        int batch = x.Shape[0], ch = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        var r = Nd.Zeros(batch, ch, outH, outW);
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < ch; c++)
                for (int oy = 0; oy < outH; oy++)
                {
                    var (y0, wy) = Taps(oy, h, outH, alignCorners);
                    for (int ox = 0; ox < outW; ox++)
                    {
                        var (x0, wx) = Taps(ox, w, outW, alignCorners);
                        double acc = 0;
                        for (int ky = 0; ky < 4; ky++)
                            for (int kx = 0; kx < 4; kx++)
                                acc += wy[ky] * wx[kx] * x[b, c, Math.Clamp(y0 + ky, 0, h - 1), Math.Clamp(x0 + kx, 0, w - 1)];
                        r[b, c, oy, ox] = acc;
                    }
                }
        return r;
    }

    /// <summary>2-D pooling by its definition: out[b, c, oy, ox] reduces x[b, c, oy*sH - pH + ky, ox*sW - pW + kx]
    /// over the window taps that fall inside the image; an average divides by that count, or by kH*kW when
    /// countIncludePad (padded taps count as zeros).</summary>
    public static Nd Pool2d(PoolOp op, Nd x, Pool2dParams p)
    {
        int batch = x.Shape[0], ch = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int oh = (h + 2 * p.PadH - p.KernelH) / p.StrideH + 1, ow = (wd + 2 * p.PadW - p.KernelW) / p.StrideW + 1;
        var r = Nd.Zeros(batch, ch, oh, ow);
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < ch; c++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double acc = op == PoolOp.Max ? double.NegativeInfinity : 0;
                        int count = 0;
                        for (int ky = 0; ky < p.KernelH; ky++)
                            for (int kx = 0; kx < p.KernelW; kx++)
                            {
                                int iy = oy * p.StrideH - p.PadH + ky, ix = ox * p.StrideW - p.PadW + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                double v = x[b, c, iy, ix];
                                acc = op == PoolOp.Max ? Math.Max(acc, v) : acc + v;
                                count++;
                            }
                        r[b, c, oy, ox] = op == PoolOp.Max ? acc : acc / (p.CountIncludePad ? p.KernelH * p.KernelW : count);
                    }
        return r;
    }
}
