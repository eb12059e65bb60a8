using ILGPU;

namespace Tessera.Kernels;

// The element-wise part of one LSTM step (ONNX semantics), for every direction and batch row at once. Reference:
// tests/Tessera.Tests/Reference/LstmReference.cs and the CPU backend's LstmCell (src/Tessera.Cpu/Kernels/LstmCell.cs).
// The host runs, per step, one batched GEMM rec[d] = h[d] R[d]^T over the directions and then this kernel; the input
// projection proj = x W^T + Wb + Rb of every step was one GEMM before the loop. Each thread owns one hidden unit
// (d, b, j): it reads the four gate pre-activations at its row's own time step (a reverse direction starts at
// lens[b] - 1), updates c and h in place and writes h to y. Nothing is shared between threads: the step's GEMM has
// already read the old h.

/// <summary>The sizes and switches of one LSTM step (host mirror: Tessera.Cuda's LstmStepArgsArg).</summary>
public struct LstmStepArgs
{
    public int Steps, Batch, Hidden, Dirs;
    /// <summary>The step index k: row b works on time k (forward) or lens[b] - 1 - k (reverse), if k &lt; lens[b].</summary>
    public int Step;
    /// <summary>Bit d set: direction d runs backwards.</summary>
    public int ReverseMask;
    public int HasPeepholes, HasLens, InputForget;
    /// <summary>Gate pre-activation clip; 0 or less: none.</summary>
    public float Clip;
}

/// <summary>The LSTM kernel family.</summary>
public static class LstmKernels
{
    /// <summary>rec [D, B, 4H] (h R^T), proj [S * B, D * 4H] (x W^T + biases), p [D, 3H] (i, o, f; read when
    /// HasPeepholes), lens [B] (read when HasLens), h and c [D, B, H] updated in place, y [S, D, B, H]. Gate order
    /// i, o, f, c as ONNX.</summary>
    [Kernel(BlockX = 256, Reference = "LstmReference; CpuBackend.Lstm (LstmCell)")]
    public static void Step(ArrayView<float> rec, ArrayView<float> proj, ArrayView<float> p, ArrayView<int> lens,
        ArrayView<float> h, ArrayView<float> c, ArrayView<float> y, LstmStepArgs a)
    {
        int hid = a.Hidden;
        long g4 = 4L * hid, n = (long)a.Dirs * a.Batch * hid;
        for (long e = (long)Grid.IdxX * Group.DimX + Group.IdxX; e < n; e += (long)Grid.DimX * Group.DimX)
        {
            int j = (int)(e % hid);
            long q = e / hid;
            int b = (int)(q % a.Batch), d = (int)(q / a.Batch);
            int len = a.HasLens != 0 ? lens[b] : a.Steps;
            if (a.Step < len)
            {
                int t = ((a.ReverseMask >> d) & 1) != 0 ? len - 1 - a.Step : a.Step;
                long r0 = ((long)d * a.Batch + b) * g4 + j;
                long x0 = ((long)t * a.Batch + b) * a.Dirs * g4 + d * g4 + j;
                float gi = rec[r0] + proj[x0];
                float go = rec[r0 + hid] + proj[x0 + hid];
                float gf = rec[r0 + 2 * hid] + proj[x0 + 2 * hid];
                float gc = rec[r0 + 3 * hid] + proj[x0 + 3 * hid];
                long si = ((long)d * a.Batch + b) * hid + j;
                float cp = c[si];
                long p0 = (long)d * 3 * hid + j;
                if (a.HasPeepholes != 0)
                {
                    gi += p[p0] * cp;
                    gf += p[p0 + 2 * hid] * cp;
                }
                float i = ElementMath.Sigmoid(Clip(gi, a.Clip));
                float f = a.InputForget != 0 ? 1f - i : ElementMath.Sigmoid(Clip(gf, a.Clip));
                float cn = f * cp + i * ElementMath.Unary(OpCodes.Tanh, Clip(gc, a.Clip));
                if (a.HasPeepholes != 0) go += p[p0 + hid] * cn;
                float hn = ElementMath.Sigmoid(Clip(go, a.Clip)) * ElementMath.Unary(OpCodes.Tanh, cn);
                c[si] = cn;
                h[si] = hn;
                y[(((long)t * a.Dirs + d) * a.Batch + b) * hid + j] = hn;
            }
        }
    }

    private static float Clip(float x, float clip) => clip > 0f ? Math.Min(Math.Max(x, -clip), clip) : x;
}
