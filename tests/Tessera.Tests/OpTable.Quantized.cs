using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Rows for the quantized matmul (x.Linear with a GGUF block-type weight, or i8 with per-row scales). Each output is
// held to two references: the naive double product of the dequantized weight with the activations quantized as the
// backend quantizes them (the same inputs, so nmse < 1e-7), and, for outputs of at least 64 elements, with the f32
// activations themselves (the error of 8-bit activation quantization: nmse < 1e-4; uniform rounding of 8 bits gives
// about 1/(4*127^2) = 1.6e-5 on average; a single dot product can land near zero, where no relative bound holds).
public static partial class OpTable
{
    private static readonly DType[] QuantTypes = [I8, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K];

    /// <summary>The weight operand [n, k] (i8 draws every value), and for i8 its scales [n].</summary>
    private static In[] QuantWeight(DType t, int n, int k) => t == I8
        ? [new In(I8, [n, k], (r, _) => r.Next(-128, 128)), In.Of(F32, n).Range(0, 0.01)]
        : [In.Quantized(t, n, k)];

    /// <summary>x [..., K] @ w^T [K, N] + bias, act, + residual, in double; x quantized as the backend does first when
    /// <paramref name="quantizeX"/>.</summary>
    private static Nd QuantRef(DType t, Nd x, Nd w, Nd? scales, Nd? bias, Activation act, Nd? residual, bool quantizeX)
    {
        int n = w.Shape[0], k = w.Shape[1], m = x.Length / k;
        var xs = quantizeX ? NaiveQuant.Activations(t, x.Data, m, k) : x.Data;
        var y = new Nd([.. x.Shape[..^1], n], new double[m * n]);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, scale = scales?.Data[j] ?? 1;
                for (int l = 0; l < k; l++) s += xs[i * k + l] * w.Data[j * k + l] * scale;
                s = NaiveOps.Activate(act, s + (bias?.Data[j] ?? 0));
                y.Data[i * n + j] = s + (residual?.Data[i * n + j] ?? 0);
            }
        return y;
    }

    /// <summary>One quantized row: x [m, k] as the transpose of a [k, m] tensor (a strided view), the weight made
    /// constant first when <paramref name="constant"/> (the CPU then repacks it once, as for a model's weights).</summary>
    private static OpRow QuantRow(DType t, int m, int k, int n, bool epilogue, bool constant)
    {
        var ins = new List<In> { In.Transposed(F32, m, k) };
        ins.AddRange(QuantWeight(t, n, k));
        int at = ins.Count;
        if (epilogue) { ins.Add(In.Of(F32, n).Range(-0.5, 0.5)); ins.Add(In.Of(F32, m, n)); }
        bool i8 = t == I8, averaged = m * n >= 64;
        Nd Ref(Nd[] r, bool q) => QuantRef(t, r[0], r[1], i8 ? r[2] : null, epilogue ? r[at] : null,
            epilogue ? Activation.Gelu : Activation.None, epilogue ? r[at + 1] : null, q);
        return new($"QuantizedMatMul {N(t)} {m}x{k}x{n} T{(epilogue ? " bias Gelu residual" : "")}{(constant ? " constant" : "")}", [.. ins],
            tt =>
            {
                var w = constant ? tt[1].AsConstant() : tt[1];
                var y = tt[0].Linear(w, epilogue ? new MatMulEpilogue(tt[at], Activation.Gelu, tt[at + 1]) : null, i8 ? tt[2] : null);
                return averaged ? [y, y] : [y];
            },
            r => averaged ? [Ref(r, true), Ref(r, false)] : [Ref(r, true)],
            averaged ? [new Out(F32, Check.Nmse, 1e-7), new Out(F32, Check.Nmse, 1e-4)] : [new Out(F32, Check.Nmse, 1e-7)]);
    }

    private static IEnumerable<OpRow> QuantizedLinear()
    {
        foreach (var t in QuantTypes)
        {
            int bs = t is Q4_K or Q6_K ? 256 : t == I8 ? 4 : 32;
            int big = t is Q4_K or Q6_K ? 4608 : 4160; // past any cache block
            var shapes = new List<(int M, int K, int N)> { (1, bs, 1), (2, 3 * bs, 3), (3, bs, 17), (7, 2 * bs, 65), (33, big, 129), (197, 768, 65), (1, big, 129) };
            if (t == I8) shapes.InsertRange(0, [(1, 7, 1), (6, 33, 17), (13, 130, 65)]);
            // The formats with AVX-512 decode kernels (4 weight rows at a time): column tails, odd block counts.
            bool repacked = t is Q8_0 or Q4_0;
            if (repacked) shapes.AddRange([(5, 96, 7), (1, 4096, 72), (9, 64, 8)]);
            // Constant ones run on 16-row panels: N past whole panels, 1..8-row tiles and their remainders.
            if (repacked) shapes.AddRange([(1, 96, 23), (3, 64, 40), (8, 128, 33), (13, 96, 50), (130, 64, 19)]);
            foreach (var (m, k, n) in shapes.Distinct())
                foreach (bool epilogue in new[] { false, true })
                {
                    yield return QuantRow(t, m, k, n, epilogue, constant: false);
                    if (repacked) yield return QuantRow(t, m, k, n, epilogue, constant: true);
                }
        }

        // bf16 activations give bf16 outputs; a constant weight keeps its packed form (int8: the VNNI layout), so
        // the second call runs on the cached pack: both calls are checked (bf16 output rounding: nmse < 1e-5).
        foreach (var t in new[] { I8, Q4_0, Q4_K })
        {
            const int m = 9, k = 512, n = 40;
            var ins = new List<In> { In.Of(BF16, 1, m, k) };
            ins.AddRange(QuantWeight(t, n, k));
            yield return new($"QuantizedMatMul {N(t)} [1, {m}, {k}] x{n} constant twice bf16", [.. ins],
                tt =>
                {
                    var w = tt[1].AsConstant();
                    var scales = t == I8 ? tt[2] : null;
                    return [tt[0].Linear(w, null, scales), tt[0].Linear(w, null, scales)];
                },
                r => { var y = QuantRef(t, r[0], r[1], t == I8 ? r[2] : null, null, Activation.None, null, true); return [y, y]; },
                [new Out(BF16, Check.Nmse, 1e-5), new Out(BF16, Check.Nmse, 1e-5)]);
        }
    }
}
