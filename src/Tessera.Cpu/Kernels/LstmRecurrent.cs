using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu.Kernels;

/// <summary>One direction's recurrent weight R [4H, H] packed for the fused LSTM step: panels of L hidden units
/// (L = the vector width, 16 with AVX-512), and in each panel for every k the four gates' L weights side by side,
/// element ((u * H + k) * 4 + g) * L + l = R[g * H + u * L + l, k] (zero past H). A step then reads R once, front to
/// back, as one stream (1 MB at H = 256: it stays in L2 from step to step), and a panel's four gate vectors of a
/// unit block come out of the product together, ready for the gate update without a round trip through memory.</summary>
internal sealed unsafe class LstmPackedR : IDisposable
{
    public LstmPackedR(float* r, int h)
    {
        Hidden = h;
        Lanes = LstmRecurrent.Lanes;
        Panels = (h + Lanes - 1) / Lanes;
        long size = (long)Panels * h * 4 * Lanes;
        Data = (float*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64);
        for (int u = 0; u < Panels; u++)
            for (int g = 0; g < 4; g++)
                for (int l = 0; l < Lanes; l++)
                {
                    int unit = u * Lanes + l;
                    float* dst = Data + ((long)u * h * 4 + g) * Lanes + l;
                    float* src = r + ((long)g * h + unit) * h;
                    for (int k = 0; k < h; k++) dst[(long)k * 4 * Lanes] = unit < h ? src[k] : 0f;
                }
    }

    public int Hidden { get; }

    public int Lanes { get; }

    public int Panels { get; }

    public float* Data { get; private set; }

    public void Dispose()
    {
        if (Data != null) NativeMemory.AlignedFree(Data);
        Data = null;
    }
}

/// <summary>The fused recurrent part of an LSTM step: for each panel of L hidden units and each block of up to four
/// batch rows, the product h [rows, H] x R^T restricted to the panel's 4 x L gate columns (held in registers,
/// broadcast h[k] times one contiguous 4L-float row of <see cref="LstmPackedR"/>), then <see cref="LstmCell"/> on
/// those L units. h is read from hCur and written to hNext (other panels still read the old h in this step).</summary>
internal static unsafe class LstmRecurrent
{
    /// <summary>Hidden units per panel: the widest vector the hardware runs.</summary>
    public static int Lanes => Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 1;

    /// <summary>Panels [u0, u1) of one step of one direction. rowInp[b]: row b's projection for this direction at its
    /// time step (4H gate pre-activations), or null when the row has finished (its h is carried over); rowY[b]: where
    /// its h' goes in Y. c [batch, H] is updated in place; p (peepholes [3H]) may be null.</summary>
    public static void Step(LstmPackedR r, float* hCur, float* hNext, float* c, int batch, float** rowInp, float** rowY, float* p,
        int u0, int u1, float clip, bool inputForget)
    {
        if (r.Lanes != Lanes) throw new InvalidOperationException($"lstm: R packed for {r.Lanes} lanes, running {Lanes}");
        if (Lanes == 16) Step<Vector512<float>, V512>(r, hCur, hNext, c, batch, rowInp, rowY, p, u0, u1, clip, inputForget);
        else if (Lanes == 8) Step<Vector256<float>, V256>(r, hCur, hNext, c, batch, rowInp, rowY, p, u0, u1, clip, inputForget);
        else Step<float, V1>(r, hCur, hNext, c, batch, rowInp, rowY, p, u0, u1, clip, inputForget);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: no tier-0 code in a model's first run
    private static void Step<TV, S>(LstmPackedR r, float* hCur, float* hNext, float* c, int batch, float** rowInp, float** rowY,
        float* p, int u0, int u1, float clip, bool inputForget) where TV : struct where S : ISimd<TV>
    {
        int h = r.Hidden, lanes = S.Count;
        float* acc = stackalloc float[16 * 16]; // [row 0..3][gate 0..3][lane]
        for (int u = u0; u < u1; u++)
        {
            float* panel = r.Data + (long)u * h * 4 * lanes;
            int j = u * lanes, count = Math.Min(lanes, h - j);
            for (int r0 = 0; r0 < batch; r0 += 4)
            {
                int n = Math.Min(4, batch - r0);
                float* h0 = hCur + (long)r0 * h;
                switch (n)
                {
                    case 1: Dot<TV, S, Rows1>(panel, h0, h, acc); break;
                    case 2: Dot<TV, S, Rows2>(panel, h0, h, acc); break;
                    case 3: Dot<TV, S, Rows3>(panel, h0, h, acc); break;
                    default: Dot<TV, S, Rows4>(panel, h0, h, acc); break;
                }
                for (int i = 0; i < n; i++)
                {
                    long row = r0 + i;
                    if (rowInp[row] == null)
                    {
                        new ReadOnlySpan<float>(hCur + row * h + j, count).CopyTo(new Span<float>(hNext + row * h + j, count));
                        continue;
                    }
                    LstmCell.Update(acc + i * 4 * lanes, lanes, rowInp[row] + j, h, hNext + row * h + j, c + row * h + j,
                        p == null ? null : p + j, rowY[row] + j, count, clip, inputForget);
                }
            }
        }
    }

    private interface IRows
    {
        static abstract int N { get; }
    }

    private readonly struct Rows1 : IRows { public static int N => 1; }

    private readonly struct Rows2 : IRows { public static int N => 2; }

    private readonly struct Rows3 : IRows { public static int N => 3; }

    private readonly struct Rows4 : IRows { public static int N => 4; }

    /// <summary>acc[i][g] = sum_k h[i, k] R[g * H + unit, k] for N rows (h rows H apart) and the panel's L units.
    /// One row alone keeps two accumulator sets (even and odd k) so that eight FMA chains are in flight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot<TV, S, RC>(float* panel, float* h, int hid, float* acc)
        where TV : struct where S : ISimd<TV> where RC : struct, IRows
    {
        int lanes = S.Count;
        TV z = S.Splat(0f);
        TV a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
        TV c0 = z, c1 = z, c2 = z, c3 = z, d0 = z, d1 = z, d2 = z, d3 = z;
        float* q = panel;
        int k = 0;
        if (RC.N == 1)
        {
            for (; k + 1 < hid; k += 2, q += 8 * lanes)
            {
                TV x = S.Splat(h[k]), y = S.Splat(h[k + 1]);
                a0 = S.Fma(x, S.Load(q), a0);
                a1 = S.Fma(x, S.Load(q + lanes), a1);
                a2 = S.Fma(x, S.Load(q + 2 * lanes), a2);
                a3 = S.Fma(x, S.Load(q + 3 * lanes), a3);
                b0 = S.Fma(y, S.Load(q + 4 * lanes), b0);
                b1 = S.Fma(y, S.Load(q + 5 * lanes), b1);
                b2 = S.Fma(y, S.Load(q + 6 * lanes), b2);
                b3 = S.Fma(y, S.Load(q + 7 * lanes), b3);
            }
        }
        for (; k < hid; k++, q += 4 * lanes)
        {
            TV r0 = S.Load(q), r1 = S.Load(q + lanes), r2 = S.Load(q + 2 * lanes), r3 = S.Load(q + 3 * lanes);
            TV x = S.Splat(h[k]);
            a0 = S.Fma(x, r0, a0); a1 = S.Fma(x, r1, a1); a2 = S.Fma(x, r2, a2); a3 = S.Fma(x, r3, a3);
            if (RC.N > 1)
            {
                x = S.Splat(h[hid + k]);
                b0 = S.Fma(x, r0, b0); b1 = S.Fma(x, r1, b1); b2 = S.Fma(x, r2, b2); b3 = S.Fma(x, r3, b3);
            }
            if (RC.N > 2)
            {
                x = S.Splat(h[2 * hid + k]);
                c0 = S.Fma(x, r0, c0); c1 = S.Fma(x, r1, c1); c2 = S.Fma(x, r2, c2); c3 = S.Fma(x, r3, c3);
            }
            if (RC.N > 3)
            {
                x = S.Splat(h[3 * hid + k]);
                d0 = S.Fma(x, r0, d0); d1 = S.Fma(x, r1, d1); d2 = S.Fma(x, r2, d2); d3 = S.Fma(x, r3, d3);
            }
        }
        if (RC.N == 1)
        {
            a0 = S.Add(a0, b0); a1 = S.Add(a1, b1); a2 = S.Add(a2, b2); a3 = S.Add(a3, b3);
        }
        S.Store(a0, acc); S.Store(a1, acc + lanes); S.Store(a2, acc + 2 * lanes); S.Store(a3, acc + 3 * lanes);
        if (RC.N > 1) { float* o = acc + 4 * lanes; S.Store(b0, o); S.Store(b1, o + lanes); S.Store(b2, o + 2 * lanes); S.Store(b3, o + 3 * lanes); }
        if (RC.N > 2) { float* o = acc + 8 * lanes; S.Store(c0, o); S.Store(c1, o + lanes); S.Store(c2, o + 2 * lanes); S.Store(c3, o + 3 * lanes); }
        if (RC.N > 3) { float* o = acc + 12 * lanes; S.Store(d0, o); S.Store(d1, o + lanes); S.Store(d2, o + 2 * lanes); S.Store(d3, o + 3 * lanes); }
    }
}
