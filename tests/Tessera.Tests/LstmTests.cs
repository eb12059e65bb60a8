using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>The ONNX LSTM op on every backend present against <see cref="LstmReference"/> (double, straight from the
/// ONNX formulas), in the op table's manner: odd sizes (seq 7, batch 3, input 13, hidden 11), each direction, with and
/// without biases, initial states, sequence lengths (a reverse direction then starts mid-sequence), peepholes, a clip
/// that bites, coupled gates, the batch-first layout and a strided x; Y, Y_h and Y_c each within normalised MSE 1e-7.</summary>
public class LstmTests
{
    public sealed record Case(string Name, LstmDirection Dir, bool Bias = false, bool Init = false, bool Lens = false,
        bool Peep = false, float? Clip = null, bool InputForget = false, bool BatchFirst = false, bool StridedX = false,
        int S = 7, int B = 3, int I = 13, int H = 11);

    private static IEnumerable<Case> Cases()
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
        // The fused step: panels of 16 units with a partial last one (H 37, 33, 50), row blocks of 4 with 1, 2 and 3
        // left over (batch 1, 6, 7), and on cpu-2t one direction's panels split between two threads each step.
        yield return new("forward batch 1 odd H", LstmDirection.Forward, true, true, false, true, 0.9f, S: 6, B: 1, I: 20, H: 37);
        yield return new("reverse batch 6 all", LstmDirection.Reverse, true, true, true, true, 0.9f, true, S: 6, B: 6, I: 9, H: 33);
        yield return new("forward batch 7 lens", LstmDirection.Forward, true, true, true, S: 8, B: 7, I: 21, H: 50);
        yield return new("bidirectional batch 2 lens", LstmDirection.Bidirectional, true, false, true, S: 5, B: 2, I: 30, H: 40);
    }

    private static readonly Dictionary<string, Case> s_cases = Cases().ToDictionary(c => c.Name);

    public static IEnumerable<object[]> Rows() =>
        from c in s_cases.Keys from b in TestBackends.Names select new object[] { c, b };

    private static Nd Rand(Random rng, double scale, params int[] shape)
    {
        var n = Nd.Zeros(shape);
        for (int i = 0; i < n.Length; i++) n.Data[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return n;
    }

    private static Tensor Up(IBackend be, Nd n) => Tensor.FromArray(be, n.Data.Select(v => (float)v).ToArray(), n.Shape);

    /// <summary>[a, b, c] -> [b, a, c].</summary>
    private static Nd Swap01(Nd n)
    {
        var r = Nd.Zeros(n.Shape[1], n.Shape[0], n.Shape[2]);
        for (int i = 0; i < n.Shape[0]; i++)
            for (int j = 0; j < n.Shape[1]; j++)
                for (int k = 0; k < n.Shape[2]; k++) r[j, i, k] = n[i, j, k];
        return r;
    }

    private static void AssertNmse(string what, Nd want, Tensor got, double tol = 1e-7)
    {
        Assert.Equal(want.Shape, got.Shape.Dims.ToArray());
        var g = got.ToFloatArray();
        double err = 0, norm = 0;
        for (int i = 0; i < g.Length; i++) { err += Math.Pow(want.Data[i] - g[i], 2); norm += want.Data[i] * want.Data[i]; }
        Assert.True(err <= tol * Math.Max(norm, 1e-30), $"{what}: normalised MSE {err / Math.Max(norm, 1e-30):E2} over {tol:E0}");
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void Lstm_matches_the_onnx_formulas(string name, string backend)
    {
        var c = s_cases[name];
        var be = TestBackends.Get(backend);
        var rng = new Random(name.Aggregate(17, (h, ch) => h * 31 + ch));
        int dirs = c.Dir == LstmDirection.Bidirectional ? 2 : 1;
        double ws = 1.5 / Math.Sqrt(c.H);
        var x = Rand(rng, 1, c.S, c.B, c.I);
        var w = Rand(rng, ws, dirs, 4 * c.H, c.I);
        var r = Rand(rng, ws, dirs, 4 * c.H, c.H);
        var b = c.Bias ? Rand(rng, 0.5, dirs, 8 * c.H) : null;
        var h0 = c.Init ? Rand(rng, 0.8, dirs, c.B, c.H) : null;
        var c0 = c.Init ? Rand(rng, 1.5, dirs, c.B, c.H) : null;
        var p = c.Peep ? Rand(rng, 0.7, dirs, 3 * c.H) : null;
        // Lengths cover the whole sequence, a middle one and an empty row (states stay the initial ones).
        int[]? lens = c.Lens ? [.. Enumerable.Range(0, c.B).Select(i => i == 0 ? c.S : i == 1 ? 0 : 1 + rng.Next(c.S - 1))] : null;
        bool[] reverse = [.. Enumerable.Range(0, dirs).Select(d => c.Dir == LstmDirection.Reverse || d == 1)];
        var (wy, wyh, wyc) = LstmReference.Run(x, w, r, b, lens, h0, c0, p, reverse, c.Clip, c.InputForget);

        using var scope = TensorScope.Begin();
        var opts = new LstmOptions { Direction = c.Dir, Clip = c.Clip, InputForget = c.InputForget, BatchFirst = c.BatchFirst };
        Tensor xt;
        if (c.BatchFirst) xt = Up(be, Swap01(x));
        else if (c.StridedX) xt = Up(be, Swap01(x)).Transpose(0, 1); // [S, B, I] with the batch axis outermost in memory
        else xt = Up(be, x);
        var st = (Nd? n) => n is null ? null : Up(be, c.BatchFirst ? Swap01(n) : n);
        var res = xt.Lstm(Up(be, w), Up(be, r), b is null ? null : Up(be, b), opts, st(h0), st(c0), p is null ? null : Up(be, p),
            lens is null ? null : Tensor.FromArray(be, lens, c.B));
        if (c.BatchFirst)
        {
            // [S, D, B, H] -> [B, S, D, H] and [D, B, H] -> [B, D, H].
            var yb = Nd.Zeros(c.B, c.S, dirs, c.H);
            for (int t = 0; t < c.S; t++) for (int d = 0; d < dirs; d++) for (int bi = 0; bi < c.B; bi++) for (int j = 0; j < c.H; j++)
                yb[bi, t, d, j] = wy[t, d, bi, j];
            wy = yb; wyh = Swap01(wyh); wyc = Swap01(wyc);
        }
        AssertNmse("Y", wy, res.Y);
        AssertNmse("Y_h", wyh, res.Yh);
        AssertNmse("Y_c", wyc, res.Yc);
    }

    [Theory]
    [InlineData(LstmDirection.Forward, 3)]
    [InlineData(LstmDirection.Bidirectional, 2)]
    [InlineData(LstmDirection.Bidirectional, 1)]
    public void Constant_weights_packed_once_give_the_reference_on_every_call(LstmDirection dir, int threads)
    {
        // Constant W and R keep their packed forms with their storage: the second call runs on the cached packs. Three
        // threads split 5 panels (H 70) into uneven parts.
        using var be = new Tessera.Cpu.CpuBackend(new Tessera.Cpu.CpuBackendOptions(Threads: threads));
        var rng = new Random(11 + threads);
        int dirs = dir == LstmDirection.Bidirectional ? 2 : 1, s = 6, batch = 2, input = 19, h = 70;
        var x = Rand(rng, 1, s, batch, input);
        var w = Rand(rng, 0.2, dirs, 4 * h, input);
        var r = Rand(rng, 0.2, dirs, 4 * h, h);
        var b = Rand(rng, 0.5, dirs, 8 * h);
        bool[] reverse = [.. Enumerable.Range(0, dirs).Select(d => d == 1)];
        var (wy, wyh, wyc) = LstmReference.Run(x, w, r, b, null, null, null, null, reverse, null, false);
        using var scope = TensorScope.Begin();
        var wc = Up(be, w).AsConstant();
        var rc = Up(be, r).AsConstant();
        var bc = Up(be, b).AsConstant();
        var xt = Up(be, x);
        for (int call = 0; call < 2; call++)
        {
            var res = xt.Lstm(wc, rc, bc, new LstmOptions { Direction = dir });
            AssertNmse($"Y call {call}", wy, res.Y);
            AssertNmse($"Y_h call {call}", wyh, res.Yh);
            AssertNmse($"Y_c call {call}", wyc, res.Yc);
        }
    }

    [Fact]
    public void F16_input_gives_f16_outputs_close_to_the_reference()
    {
        var be = TestBackends.Get("cpu-1t");
        var rng = new Random(5);
        var x = Rand(rng, 1, 4, 2, 5);
        var w = Rand(rng, 0.5, 1, 12, 5);
        var r = Rand(rng, 0.5, 1, 12, 3);
        var (wy, _, _) = LstmReference.Run(x, w, r, null, null, null, null, null, [false], null, false);
        using var scope = TensorScope.Begin();
        var res = Up(be, x).To(F16).Lstm(Up(be, w), Up(be, r));
        Assert.Equal(F16, res.Y.DType);
        AssertNmse("Y f16", wy, res.Y, 1e-5);
    }

    [Fact]
    public void Errors_name_the_operand_and_its_shape()
    {
        var be = TestBackends.Get("cpu-1t");
        using var scope = TensorScope.Begin();
        var x = Tensor.Zeros(be, F32, new Shape(4, 2, 5));
        var w = Tensor.Zeros(be, F32, new Shape(1, 12, 5));
        var r = Tensor.Zeros(be, F32, new Shape(1, 12, 3));
        var e = Assert.Throws<TesseraException>(() => x.Lstm(Tensor.Zeros(be, F32, new Shape(1, 12, 6)), r));
        Assert.Contains("W must be [dirs=1, 4H=12, input=5]", e.Message);
        e = Assert.Throws<TesseraException>(() => x.Lstm(w, r, options: new LstmOptions { Direction = LstmDirection.Bidirectional }));
        Assert.Contains("R must be [dirs=2, 4H, H]", e.Message);
        e = Assert.Throws<TesseraException>(() => x.Lstm(w, r, Tensor.Zeros(be, F32, new Shape(1, 12))));
        Assert.Contains("B must be a float tensor [1, 24]", e.Message);
        e = Assert.Throws<TesseraException>(() => x.Lstm(w, r, sequenceLens: Tensor.FromArray(be, new[] { 4, 5 }, 2)));
        Assert.Contains("sequence_lens[1] = 5 is outside 0..4", e.Message);
        e = Assert.Throws<TesseraException>(() => x.Lstm(w, r, initialH: Tensor.Zeros(be, F32, new Shape(2, 1, 3))));
        Assert.Contains("initial_h [dirs, batch, H] must be a float tensor [1, 2, 3]", e.Message);
        e = Assert.Throws<TesseraException>(() => x.Lstm(w, r, options: new LstmOptions { Clip = -1 }));
        Assert.Contains("clip", e.Message);
    }

    [Fact]
    public void A_backend_without_lstm_refuses_clearly()
    {
        var cpu = TestBackends.Get("cpu-1t");
        IBackend bare = new BareBackend(cpu);
        using var x = Tensor.Zeros(cpu, F32, new Shape(2, 1, 3));
        var e = Assert.Throws<TesseraException>(() => bare.Lstm(x, x, x, null, null, null, null, null, LstmOptions.Default, x, x, x));
        Assert.Contains("bare backend has no lstm", e.Message);
    }
}
