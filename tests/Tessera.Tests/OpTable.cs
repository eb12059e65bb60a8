using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

/// <summary>The op table, after ggml's test-backend-ops: one row per (op, shape case, dtype), each run on
/// every backend in <see cref="TestBackends"/> and compared with its naive reference (<see cref="NaiveOps"/> and
/// the other Reference classes). Adding a case is adding a line; every IBackend member must have rows
/// (<see cref="OpTableTests"/> finds the members by reflection). Shapes are odd on purpose (1, 3, 7, 17, 33,
/// 65, 197: no tile or vector width divides them), with single rows, broadcasts, and transposed, strided and
/// permuted views. The rows are split by op family over OpTable.*.cs.</summary>
public static partial class OpTable
{
    private static readonly Lazy<Dictionary<string, OpRow>> s_rows = new(Build);

    public static IReadOnlyDictionary<string, OpRow> Rows => s_rows.Value;

    private static Dictionary<string, OpRow> Build()
    {
        var rows = new Dictionary<string, OpRow>();
        foreach (var row in Elementwise().Concat(Linear()).Concat(RowOps()).Concat(DataMovement()).Concat(Image()).Concat(ModelOps()))
            if (!rows.TryAdd(row.Name, row)) throw new InvalidOperationException($"duplicate table row name '{row.Name}'");
        // The families that had harnesses of their own: quantized matmul, attention (fused and paged), LSTM, and the
        // image ops first written for the CPU only (pooling, transposed convolution, nearest upsampling).
        foreach (var row in QuantizedLinear().Concat(Attention()).Concat(PagedAttention()).Concat(Recurrent()).Concat(Resampling()))
            if (!rows.TryAdd(row.Name, row)) throw new InvalidOperationException($"duplicate table row name '{row.Name}'");
        return rows;
    }

    private static string N(DType t) => t.Name();

    private static string S(params int[] d) => "[" + string.Join(", ", d) + "]";

    private static OpRow Unary(UnaryOp op, string label, In x) =>
        new($"{op} {label} {N(x.DType)}", [x], t => t[0].Map(op), r => NaiveOps.Map(op, r[0]));

    private static IEnumerable<OpRow> Elementwise()
    {
        // ---- unary: every op on every shape case; the domain keeps Log, Sqrt and Rsqrt positive.
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            Func<In, In> dom = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt ? i => i.Range(0.05, 4) : i => i.Range(-4, 4);
            yield return Unary(op, "[1]", dom(In.Of(F32, 1)));
            yield return Unary(op, "[7]", dom(In.Of(F32, 7)));
            yield return Unary(op, "[3, 17]", dom(In.Of(F32, 3, 17)));
            yield return Unary(op, "[2, 3, 65]", dom(In.Of(F32, 2, 3, 65)));
            yield return Unary(op, "T [17, 33]", dom(In.Transposed(F32, 17, 33)));
            yield return Unary(op, "strided [5, 9]", dom(In.Strided(F32, 5, 9)));
            yield return Unary(op, "broadcast [1, 17] to [4, 17]", dom(In.Broadcast(F32, [1, 17], [4, 17])));
            yield return Unary(op, "[7, 33]", dom(In.Of(F16, 7, 33)));
            yield return Unary(op, "[7, 33]", dom(In.Of(BF16, 7, 33)));
            yield return Unary(op, "T [17, 33]", dom(In.Transposed(BF16, 17, 33)));
        }
        // Wide inputs catch formulas that overflow (tanh as (e^2x - 1)/(e^2x + 1), sigmoid as e^x/(1 + e^x)).
        yield return Unary(UnaryOp.Exp, "wide [1031]", In.Of(F32, 1031).Range(-80, 80));
        foreach (var op in new[] { UnaryOp.Tanh, UnaryOp.Sigmoid, UnaryOp.Silu, UnaryOp.Gelu, UnaryOp.GeluTanh, UnaryOp.QuickGelu })
            yield return Unary(op, "wide [1031]", In.Of(F32, 1031).Range(-30, 30));
        // Enough elements for the work to be split over threads.
        foreach (var op in new[] { UnaryOp.Exp, UnaryOp.Gelu, UnaryOp.Silu })
            yield return Unary(op, "[129, 1031]", In.Of(F32, 129, 1031).Range(-4, 4));
        yield return Unary(UnaryOp.Neg, "empty [0, 7]", In.Of(F32, 0, 7));

        // ---- binary, NumPy broadcasting.
        foreach (var op in Enum.GetValues<BinaryOp>())
        {
            Func<In, In> rhs = op == BinaryOp.Div ? i => i.Magnitude(0.25, 2) : i => i;
            OpRow Bin(string label, In a, In b) =>
                new($"{op} {label} {N(a.DType)}", [a, rhs(b)], t => t[0].Zip(op, t[1]), r => NaiveOps.Zip(op, r[0], r[1]));
            yield return Bin("[3, 17] [3, 17]", In.Of(F32, 3, 17), In.Of(F32, 3, 17));
            yield return Bin("[1] [1]", In.Of(F32, 1), In.Of(F32, 1));
            yield return Bin("[7, 33] [1]", In.Of(F32, 7, 33), In.Of(F32, 1));
            yield return Bin("[1] [7, 33]", In.Of(F32, 1), In.Of(F32, 7, 33));
            yield return Bin("[65, 33] [1, 33]", In.Of(F32, 65, 33), In.Of(F32, 1, 33));
            yield return Bin("[65, 33] [33]", In.Of(F32, 65, 33), In.Of(F32, 33));
            yield return Bin("[17, 65] [17, 1]", In.Of(F32, 17, 65), In.Of(F32, 17, 1));
            yield return Bin("[17, 1] [1, 65]", In.Of(F32, 17, 1), In.Of(F32, 1, 65));
            yield return Bin("[2, 3, 5, 7] [5, 7]", In.Of(F32, 2, 3, 5, 7), In.Of(F32, 5, 7));
            yield return Bin("[2, 1, 5, 7] [3, 1, 7]", In.Of(F32, 2, 1, 5, 7), In.Of(F32, 3, 1, 7));
            yield return Bin("T [17, 33] strided [17, 33]", In.Transposed(F32, 17, 33), In.Strided(F32, 17, 33));
            yield return Bin("[7, 33] [1, 33]", In.Of(F16, 7, 33), In.Of(F16, 1, 33));
            yield return Bin("[7, 33] [7, 33]", In.Of(BF16, 7, 33), In.Of(BF16, 7, 33));
            yield return Bin("T [17, 33] [33]", In.Transposed(BF16, 17, 33), In.Of(BF16, 33));
        }
        yield return new("Add [129, 1031] [1031] f32", [In.Of(F32, 129, 1031), In.Of(F32, 1031)], t => t[0] + t[1], r => NaiveOps.Zip(BinaryOp.Add, r[0], r[1]));
        yield return new("Mul [129, 1031] [129, 1] f32", [In.Of(F32, 129, 1031), In.Of(F32, 129, 1)], t => t[0] * t[1], r => NaiveOps.Zip(BinaryOp.Mul, r[0], r[1]));

        // ---- affine.
        foreach (var (label, x, mul, add) in new (string, In, double, double)[]
        {
            ("[3, 17]", In.Of(F32, 3, 17), 0.5, -1),
            ("[1]", In.Of(F32, 1), 2, 3),
            ("T [17, 33]", In.Transposed(F32, 17, 33), -1.5, 0.25),
            ("broadcast [1, 17] to [4, 17]", In.Broadcast(F32, [1, 17], [4, 17]), 3, 0),
            ("[7, 33]", In.Of(F16, 7, 33), 0.125, 1),
            ("[7, 33]", In.Of(BF16, 7, 33), -2, 0.5),
        })
            yield return new($"Affine {label} *{mul}+{add} {N(x.DType)}", [x], t => t[0].Affine(mul, add), r => NaiveOps.Affine(r[0], mul, add));
    }
}
