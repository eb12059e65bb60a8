namespace Tessera.Tests.Reference;

/// <summary>Transposed convolution and nearest upsampling by their definitions, in double: the transposed conv as
/// the scatter of every input pixel through every kernel tap (not as a gather or a GEMM, so it checks the CPU's
/// GEMM + col2im independently), the upsampling as out[y, x] = in[y / s, x / s].</summary>
public static class NaiveConvTranspose
{
    /// <summary>x [B, C, H, W], w [C, O/groups, kH, kW], bias [O] or null. For each input pixel (iy, ix) of channel c
    /// in group g and each tap (ky, kx): out[b, g*O/groups + o, iy*sH - pH + ky*dH, ix*sW - pW + kx*dW] +=
    /// w[c, o, ky, kx] * x[b, c, iy, ix], taps landing outside the output dropped.</summary>
    public static Nd ConvTranspose2d(Nd x, Nd w, Nd? bias, ConvTranspose2dParams p)
    {
        int batch = x.Shape[0], cin = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int opg = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3], cpg = cin / p.Groups, cout = opg * p.Groups;
        int oh = (h - 1) * p.StrideH - 2 * p.PadH + p.DilationH * (kh - 1) + p.OutputPadH + 1;
        int ow = (wd - 1) * p.StrideW - 2 * p.PadW + p.DilationW * (kw - 1) + p.OutputPadW + 1;
        var r = Nd.Zeros(batch, cout, oh, ow);
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        r[b, o, oy, ox] = bias?.Data[o] ?? 0;
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < cin; c++)
            {
                int g = c / cpg;
                for (int iy = 0; iy < h; iy++)
                    for (int ix = 0; ix < wd; ix++)
                        for (int o = 0; o < opg; o++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int oy = iy * p.StrideH - p.PadH + ky * p.DilationH;
                                    int ox = ix * p.StrideW - p.PadW + kx * p.DilationW;
                                    if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                                    r[b, g * opg + o, oy, ox] += w[c, o, ky, kx] * x[b, c, iy, ix];
                                }
            }
        return r;
    }

    /// <summary>Nearest upsampling of x [B, C, H, W] by integer factors: out[b, c, y, x] = x[b, c, y / sH, x / sW].</summary>
    public static Nd UpsampleNearest(Nd x, int sh, int sw)
    {
        int batch = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        var r = Nd.Zeros(batch, c, h * sh, w * sw);
        for (int b = 0; b < batch; b++)
            for (int ci = 0; ci < c; ci++)
                for (int y = 0; y < h * sh; y++)
                    for (int xo = 0; xo < w * sw; xo++)
                        r[b, ci, y, xo] = x[b, ci, y / sh, xo / sw];
        return r;
    }
}
