using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>The LSTM beyond the op table's rows (OpTable.Lstm.cs, every direction and option on every backend):
/// constant weights packed once by the CPU backend and reused (on 1 to 3 threads), the errors, and the refusal of a
/// backend without an LSTM.</summary>
public class LstmTests
{
    private static Nd Rand(Random rng, double scale, params int[] shape)
    {
        var n = Nd.Zeros(shape);
        for (int i = 0; i < n.Length; i++) n.Data[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return n;
    }

    private static Tensor Up(IBackend be, Nd n) => Tensor.FromArray(be, n.Data.Select(v => (float)v).ToArray(), n.Shape);

    private static void AssertNmse(string what, Nd want, Tensor got)
    {
        Assert.Equal(want.Shape, got.Shape.Dims.ToArray());
        Nmse.Below(want.Data, got.ToFloatArray(), Nmse.F32Bound, what);
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
