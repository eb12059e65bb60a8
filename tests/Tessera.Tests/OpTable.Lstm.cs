using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Rows for the ONNX LSTM against LstmReference (double, straight from the ONNX formulas): odd sizes (seq 7, batch 3,
// input 13, hidden 11), each direction, with and without biases, initial states, sequence lengths (a reverse direction
// then starts mid-sequence), peepholes, a clip that bites, coupled gates, the batch-first layout and a strided x;
// Y, Y_h and Y_c are three outputs, each within normalised MSE 1e-7.
public static partial class OpTable
{
    private sealed record LstmCase(string Name, LstmDirection Dir, bool Bias = false, bool Init = false, bool Lens = false,
        bool Peep = false, float? Clip = null, bool InputForget = false, bool BatchFirst = false, bool StridedX = false,
        int S = 7, int B = 3, int I = 13, int H = 11, DType XType = F32);

    private static IEnumerable<LstmCase> LstmCases()
    {
        foreach (var d in Enum.GetValues<LstmDirection>())
        {
            string n = d.ToString().ToLowerInvariant();
            yield return new($"{n} plain", d);
            yield return new($"{n} bias", d, Bias: true);
            yield return new($"{n} bias+initial", d, Bias: true, Init: true);
            yield return new($"{n} bias+lens", d, Bias: true, Lens: true);
            yield return new($"{n} peepholes+initial", d, Init: true, Peep: true);
            yield return new($"{n} clip", d, Bias: true, Clip: 0.4f);
            yield return new($"{n} input_forget", d, Bias: true, Init: true, InputForget: true);
            yield return new($"{n} all", d, true, true, true, true, 0.9f);
            yield return new($"{n} batch-first all", d, true, true, true, true, 0.9f, BatchFirst: true);
            yield return new($"{n} strided x", d, Bias: true, Lens: true, StridedX: true);
        }
        // Sizes past one SIMD register and a batch that packs R (PackedB) across GEMM tiles.
        yield return new("bidirectional wide", LstmDirection.Bidirectional, true, true, true, true, S: 5, B: 17, I: 37, H: 45);
        yield return new("forward batch 1 wide", LstmDirection.Forward, true, S: 9, B: 1, I: 64, H: 70);
        // The CPU's fused step: panels of 16 units with a partial last one (H 37, 33, 50), row blocks of 4 with 1, 2
        // and 3 left over (batch 1, 6, 7), and on two threads one direction's panels split between them each step.
        yield return new("forward batch 1 odd H", LstmDirection.Forward, true, true, false, true, 0.9f, S: 6, B: 1, I: 20, H: 37);
        yield return new("reverse batch 6 all", LstmDirection.Reverse, true, true, true, true, 0.9f, true, S: 6, B: 6, I: 9, H: 33);
        yield return new("forward batch 7 lens", LstmDirection.Forward, true, true, true, S: 8, B: 7, I: 21, H: 50);
        yield return new("bidirectional batch 2 lens", LstmDirection.Bidirectional, true, false, true, S: 5, B: 2, I: 30, H: 40);
        // f16 activations give f16 outputs (f32 weights).
        yield return new("forward f16 x", LstmDirection.Forward, S: 4, B: 2, I: 5, H: 3, XType: F16);
    }

    /// <summary>[a, b, c] -> [b, a, c].</summary>
    private static Nd Swap01(Nd n)
    {
        var r = Nd.Zeros(n.Shape[1], n.Shape[0], n.Shape[2]);
        for (int i = 0; i < n.Shape[0]; i++)
            for (int j = 0; j < n.Shape[1]; j++)
                for (int k = 0; k < n.Shape[2]; k++) r[j, i, k] = n[i, j, k];
        return r;
    }

    private static OpRow LstmRow(LstmCase c)
    {
        int dirs = c.Dir == LstmDirection.Bidirectional ? 2 : 1;
        double ws = 1.5 / Math.Sqrt(c.H);
        In U(double scale, params int[] shape) => In.Of(F32, shape).Range(-scale, scale);
        int[] State() => c.BatchFirst ? [c.B, dirs, c.H] : [dirs, c.B, c.H];
        var x = c.BatchFirst ? In.Of(c.XType, c.B, c.S, c.I)
            : c.StridedX ? In.Of(c.XType, c.B, c.S, c.I).Viewed(t => t.Transpose(0, 1)) // [S, B, I] with the batch axis outermost in memory
            : In.Of(c.XType, c.S, c.B, c.I);
        var ins = new List<In> { x, U(ws, dirs, 4 * c.H, c.I), U(ws, dirs, 4 * c.H, c.H) };
        int Add(bool on, In i) { if (!on) return -1; ins.Add(i); return ins.Count - 1; }
        int bi = Add(c.Bias, U(0.5, dirs, 8 * c.H)), h0 = Add(c.Init, U(0.8, State())), c0 = Add(c.Init, U(1.5, State()));
        int pi = Add(c.Peep, U(0.7, dirs, 3 * c.H));
        // Lengths cover the whole sequence, an empty row (states stay the initial ones) and ones in between.
        int li = Add(c.Lens, In.Fixed(I32, [c.B], [.. Enumerable.Range(0, c.B).Select(i => (double)(i == 0 ? c.S : i == 1 ? 0 : 1 + i * 5 % (c.S - 1)))]));
        var opts = new LstmOptions { Direction = c.Dir, Clip = c.Clip, InputForget = c.InputForget, BatchFirst = c.BatchFirst };
        bool[] reverse = [.. Enumerable.Range(0, dirs).Select(d => c.Dir == LstmDirection.Reverse || d == 1)];

        Nd[] Reference(Nd[] r)
        {
            Nd? Opt(int i) => i < 0 ? null : r[i];
            Nd? St(int i) => i < 0 ? null : c.BatchFirst ? Swap01(r[i]) : r[i];
            int[]? lens = li < 0 ? null : [.. r[li].Data.Select(v => (int)v)];
            var (y, yh, yc) = LstmReference.Run(c.BatchFirst ? Swap01(r[0]) : r[0], r[1], r[2], Opt(bi), lens, St(h0), St(c0), Opt(pi), reverse, c.Clip, c.InputForget);
            if (!c.BatchFirst) return [y, yh, yc];
            // [S, D, B, H] -> [B, S, D, H] and [D, B, H] -> [B, D, H].
            var yb = Nd.Zeros(c.B, c.S, dirs, c.H);
            for (int t = 0; t < c.S; t++) for (int d = 0; d < dirs; d++) for (int b = 0; b < c.B; b++) for (int j = 0; j < c.H; j++)
                yb[b, t, d, j] = y[t, d, b, j];
            return [yb, Swap01(yh), Swap01(yc)];
        }
        var out0 = new Out(c.XType);
        return new($"Lstm {c.Name} s{c.S} b{c.B} i{c.I} h{c.H} {N(c.XType)}", [.. ins],
            t =>
            {
                Tensor? Opt(int i) => i < 0 ? null : t[i];
                var res = t[0].Lstm(t[1], t[2], Opt(bi), opts, Opt(h0), Opt(c0), Opt(pi), Opt(li));
                return [res.Y, res.Yh, res.Yc];
            },
            Reference, [out0, out0, out0]);
    }

    private static IEnumerable<OpRow> Recurrent() => LstmCases().Select(LstmRow);
}
