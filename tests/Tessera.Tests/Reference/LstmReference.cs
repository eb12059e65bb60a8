namespace Tessera.Tests.Reference;

/// <summary>A naive LSTM straight from the ONNX operator's formulas, in double, sequence-first: x [S, B, I], w [D, 4H, I],
/// r [D, 4H, H] (gates i, o, f, c), b [D, 8H], lens [B], h0 and c0 [D, B, H], p [D, 3H] (i, o, f).
///   it = f(Xt Wi^T + Ht-1 Ri^T + Pi . Ct-1 + Wbi + Rbi)
///   ft = f(Xt Wf^T + Ht-1 Rf^T + Pf . Ct-1 + Wbf + Rbf)      (1 - it with input_forget)
///   ct = g(Xt Wc^T + Ht-1 Rc^T + Wbc + Rbc)
///   Ct = ft . Ct-1 + it . ct
///   ot = f(Xt Wo^T + Ht-1 Ro^T + Po . Ct + Wbo + Rbo)
///   Ht = ot . h(Ct)
/// with f = sigmoid, g = h = tanh, and the clip (when given) applied to each activation's input. A reverse
/// direction walks each row from its last valid step; steps past a row's length give zeros in Y.</summary>
public static class LstmReference
{
    public static (Nd Y, Nd Yh, Nd Yc) Run(Nd x, Nd w, Nd r, Nd? b, int[]? lens, Nd? h0, Nd? c0, Nd? p,
        bool[] reverse, double? clip, bool inputForget)
    {
        int s = x.Shape[0], batch = x.Shape[1], input = x.Shape[2], dirs = w.Shape[0], h = r.Shape[2];
        var y = Nd.Zeros(s, dirs, batch, h);
        var yh = Nd.Zeros(dirs, batch, h);
        var yc = Nd.Zeros(dirs, batch, h);
        double Sig(double v) => 1 / (1 + Math.Exp(-v));
        double Clip(double v) => clip is { } c ? Math.Clamp(v, -c, c) : v;
        for (int d = 0; d < dirs; d++)
            for (int bi = 0; bi < batch; bi++)
            {
                var hp = new double[h];
                var cp = new double[h];
                for (int j = 0; j < h; j++)
                {
                    hp[j] = h0 is null ? 0 : h0[d, bi, j];
                    cp[j] = c0 is null ? 0 : c0[d, bi, j];
                }
                int len = lens is null ? s : lens[bi];
                for (int k = 0; k < len; k++)
                {
                    int t = reverse[d] ? len - 1 - k : k;
                    // Pre-activations of the four gates (ONNX block order i, o, f, c).
                    var g = new double[4 * h];
                    for (int row = 0; row < 4 * h; row++)
                    {
                        double acc = b is null ? 0 : b[d, row] + b[d, 4 * h + row];
                        for (int q = 0; q < input; q++) acc += x[t, bi, q] * w[d, row, q];
                        for (int q = 0; q < h; q++) acc += hp[q] * r[d, row, q];
                        g[row] = acc;
                    }
                    var hn = new double[h];
                    var cn = new double[h];
                    for (int j = 0; j < h; j++)
                    {
                        double pi = p is null ? 0 : p[d, j], po = p is null ? 0 : p[d, h + j], pf = p is null ? 0 : p[d, 2 * h + j];
                        double it = Sig(Clip(g[j] + pi * cp[j]));
                        double ft = inputForget ? 1 - it : Sig(Clip(g[2 * h + j] + pf * cp[j]));
                        double ct = Math.Tanh(Clip(g[3 * h + j]));
                        cn[j] = ft * cp[j] + it * ct;
                        double ot = Sig(Clip(g[h + j] + po * cn[j]));
                        hn[j] = ot * Math.Tanh(cn[j]);
                        y[t, d, bi, j] = hn[j];
                    }
                    hp = hn;
                    cp = cn;
                }
                for (int j = 0; j < h; j++)
                {
                    yh[d, bi, j] = hp[j];
                    yc[d, bi, j] = cp[j];
                }
            }
        return (y, yh, yc);
    }
}
