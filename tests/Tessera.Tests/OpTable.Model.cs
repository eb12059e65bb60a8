using Tessera.Quant;
using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Rows for the ops the model layer added (issue 11): compare and where, index-select on every axis, top-k and
// argsort, group norm, the gated matmul epilogue (Multiplier), slice writes, arange, sin/cos over wide ranges,
// and rotary embedding at explicit (1-D, per-sequence and 2-D) positions. U8 masks are made or read through an
// i32 conversion, since the table's operands and outputs are float or i32/i64.
public static partial class OpTable
{
    /// <summary>Few distinct integer values, so that comparisons and top-k see ties.</summary>
    private static In Ties(In x, int values) => x with { Gen = (r, _) => r.Next(values) };

    private static IEnumerable<OpRow> ModelOps() =>
        CompareRows().Concat(WhereRows()).Concat(IndexSelectRows()).Concat(TopKRows()).Concat(GroupNormRows())
            .Concat(GatedRows()).Concat(SliceWriteRows()).Concat(ArangeRows()).Concat(TrigRows()).Concat(RopeAtRows());

    private static IEnumerable<OpRow> CompareRows()
    {
        foreach (var op in Enum.GetValues<CompareOp>())
        {
            OpRow Cmp(string label, In a, In b) =>
                new($"Compare {op} {label} {N(a.DType)}", [a, b], t => { using var m = t[0].Compare(op, t[1]); return m.To(I32); },
                    r => NaiveOps.Compare(op, r[0], r[1]), Check.Exact, I32);
            yield return Cmp("[3, 17] [3, 17]", Ties(In.Of(F32, 3, 17), 3), Ties(In.Of(F32, 3, 17), 3));
            yield return Cmp("[1] [1]", In.Of(F32, 1), In.Of(F32, 1));
            yield return Cmp("[7, 33] [1, 33]", Ties(In.Of(F32, 7, 33), 3), Ties(In.Of(F32, 1, 33), 3));
            yield return Cmp("[17, 1] [1, 65]", In.Of(F32, 17, 1), In.Of(F32, 1, 65));
            yield return Cmp("T [17, 33] strided [17, 33]", Ties(In.Transposed(F32, 17, 33), 3), Ties(In.Strided(F32, 17, 33), 3));
            yield return Cmp("NaN [5, 7] [7]", new In(F32, [5, 7], (r, i) => i % 4 == 0 ? double.NaN : r.Next(3)),
                new In(F32, [7], (r, i) => i == 3 ? double.NaN : r.Next(3)));
            yield return Cmp("[7, 33] [7, 33]", Ties(In.Of(F16, 7, 33), 3), Ties(In.Of(F16, 7, 33), 3));
            yield return Cmp("[7, 33] [33]", Ties(In.Of(BF16, 7, 33), 3), Ties(In.Of(BF16, 33), 3));
            yield return Cmp("[5, 9] [5, 1]", In.Ids(I32, 4, 5, 9), In.Ids(I32, 4, 5, 1));
            yield return Cmp("[3, 65] [65]", In.Ids(I64, 3, 3, 65), In.Ids(I64, 3, 65));
        }
    }

    private static IEnumerable<OpRow> WhereRows()
    {
        // The condition comes in as i32 0/1 and is converted to u8 (then broadcast by Where itself).
        OpRow W(string label, In cond, In a, In b) =>
            new($"Where {label} {N(a.DType)}", [cond, a, b], t => { using var c = t[0].To(U8); return Tensor.Where(c, t[1], t[2]); },
                r => NaiveOps.Where(r[0], r[1], r[2]), Check.Exact, a.DType);
        yield return W("[3, 17] [3, 17] [3, 17]", In.Ids(I32, 2, 3, 17), In.Of(F32, 3, 17), In.Of(F32, 3, 17));
        yield return W("[1] [1] [1]", In.Ids(I32, 2, 1), In.Of(F32, 1), In.Of(F32, 1));
        yield return W("cond [1, 17] [7, 17] [7, 17]", In.Ids(I32, 2, 1, 17), In.Of(F32, 7, 17), In.Of(F32, 7, 17));
        yield return W("[7, 17] a [7, 1] b [1]", In.Ids(I32, 2, 7, 17), In.Of(F32, 7, 1), In.Of(F32, 1));
        yield return W("[2, 3, 5] a [3, 5] b [2, 1, 5]", In.Ids(I32, 2, 2, 3, 5), In.Of(F32, 3, 5), In.Of(F32, 2, 1, 5));
        yield return W("T [17, 33] a T b strided", In.Ids(I32, 2, 33, 17).Viewed(t => t.T), In.Transposed(F32, 17, 33), In.Strided(F32, 17, 33));
        yield return W("[129, 1031] threads", In.Ids(I32, 2, 129, 1031), In.Of(F32, 129, 1031), In.Of(F32, 1, 1031));
        yield return W("[7, 33] [7, 33] [33]", In.Ids(I32, 2, 7, 33), In.Of(F16, 7, 33), In.Of(F16, 33));
        yield return W("[7, 33] T [7, 33] [7, 1]", In.Ids(I32, 2, 7, 33), In.Transposed(BF16, 7, 33), In.Of(BF16, 7, 1));
        yield return W("[5, 9] [5, 9] [1]", In.Ids(I32, 2, 5, 9), In.Ids(I32, 1000, 5, 9), In.Ids(I32, 1000, 1));
        yield return W("[5, 9] [5, 9] [9]", In.Ids(I32, 2, 5, 9), In.Ids(I64, 1000, 5, 9), In.Ids(I64, 1000, 9));
    }

    private static IEnumerable<OpRow> IndexSelectRows()
    {
        OpRow Sel(string label, In x, int axis, In ids) =>
            new($"IndexSelect {label} axis {axis} {N(x.DType)} ids {N(ids.DType)}", [x, ids], t => t[0].IndexSelect(axis, t[1]),
                r => NaiveOps.IndexSelect(r[0], axis < 0 ? axis + r[0].Rank : axis, r[1]), Check.Exact);
        int[] dims = [3, 5, 7];
        for (int axis = 0; axis < 3; axis++)
        {
            yield return Sel("[3, 5, 7] by [4]", In.Of(F32, 3, 5, 7), axis, In.Ids(I32, dims[axis], 4));
            yield return Sel("[3, 5, 7] by [9] repeated", In.Of(F32, 3, 5, 7), axis, In.Ids(I64, dims[axis], 9));
            yield return Sel("[3, 5, 7] by [1]", In.Of(F32, 3, 5, 7), axis, In.Ids(I32, dims[axis], 1));
            yield return Sel("perm [3, 5, 7] by [4]", In.Of(F32, 5, 7, 3).Viewed(t => t.Permute(2, 0, 1)), axis, In.Ids(I32, dims[axis], 4));
            yield return Sel("[3, 5, 7] by [6]", In.Ids(I32, 1000, 3, 5, 7), axis, In.Ids(I32, dims[axis], 6));
        }
        yield return Sel("[3, 5, 7] by [4]", In.Of(F32, 3, 5, 7), -1, In.Ids(I32, 7, 4));
        yield return Sel("[17] by [33]", In.Of(F32, 17), 0, In.Ids(I32, 17, 33));
        yield return Sel("[17, 33] by [0] empty", In.Of(F32, 17, 33), 0, In.Ids(I32, 17, 0));
        yield return Sel("T [17, 33] by [5]", In.Transposed(F32, 17, 33), 1, In.Ids(I32, 33, 5));
        yield return Sel("strided [17, 33] by [5]", In.Strided(F32, 17, 33), 0, In.Ids(I64, 17, 5));
        yield return Sel("strided [17, 33] by [5] last", In.Strided(F32, 17, 33), 1, In.Ids(I32, 33, 5));
        yield return Sel("[7, 1031] by [65] threads", In.Of(F32, 7, 1031), 1, In.Ids(I32, 1031, 65));
        yield return Sel("[1000, 96] by [197] threads", In.Of(F32, 1000, 96), 0, In.Ids(I32, 1000, 197));
        yield return Sel("[2, 17, 65] by [7]", In.Of(F16, 2, 17, 65), 1, In.Ids(I32, 17, 7));
        yield return Sel("[2, 17, 65] by [7]", In.Of(BF16, 2, 17, 65), 2, In.Ids(I64, 65, 7));
        yield return Sel("[5, 9] by [3]", In.Ids(I64, 1000, 5, 9), 1, In.Ids(I32, 9, 3));
        yield return Sel("ids strided [5, 9] by [4]", In.Of(F32, 5, 9), 0, new In(I32, [8], (r, _) => r.Next(5), t => t.Slice(0, 0, 8, 2)));
    }

    private static IEnumerable<OpRow> TopKRows()
    {
        foreach (bool largest in new[] { true, false })
        {
            string dir = largest ? "largest" : "smallest";
            IEnumerable<OpRow> Top(string label, In x, int k)
            {
                yield return new($"TopK values {label} k {k} {dir} {N(x.DType)}", [x], t => t[0].TopK(k, largest).Values,
                    r => NaiveOps.TopK(r[0], k, largest).Values, Check.Exact);
                yield return new($"TopK indices {label} k {k} {dir} {N(x.DType)}", [x], t => t[0].TopK(k, largest).Indices,
                    r => NaiveOps.TopK(r[0], k, largest).Indices, Check.Exact, I32);
            }
            var rows = Top("[3, 17]", In.Of(F32, 3, 17), 1)
                .Concat(Top("[3, 17]", In.Of(F32, 3, 17), 5))
                .Concat(Top("[3, 17]", In.Of(F32, 3, 17), 17))
                .Concat(Top("[7]", In.Of(F32, 7), 3))
                .Concat(Top("[1]", In.Of(F32, 1), 1))
                .Concat(Top("[2, 3, 33]", In.Of(F32, 2, 3, 33), 4))
                .Concat(Top("ties [7, 65]", Ties(In.Of(F32, 7, 65), 4), 9))
                .Concat(Top("ties [7, 65]", Ties(In.Of(F32, 7, 65), 4), 65))
                .Concat(Top("NaN inf [5, 17]", new In(F32, [5, 17], (r, i) => (i % 7) switch { 0 => double.NaN, 3 => double.PositiveInfinity, 5 => double.NegativeInfinity, _ => r.Next(5) }), 6))
                .Concat(Top("NaN inf [5, 17]", new In(F32, [5, 17], (r, i) => (i % 7) switch { 0 => double.NaN, 3 => double.PositiveInfinity, 5 => double.NegativeInfinity, _ => r.Next(5) }), 17))
                .Concat(Top("[3, 1031]", In.Of(F32, 3, 1031), 7))
                .Concat(Top("[3, 1031]", In.Of(F32, 3, 1031), 1031))
                .Concat(Top("[129, 65] threads", In.Of(F32, 129, 65), 3))
                .Concat(Top("T [17, 33]", In.Transposed(F32, 17, 33), 5))
                .Concat(Top("strided [5, 9]", In.Strided(F32, 5, 9), 9))
                .Concat(Top("[7, 33]", Ties(In.Of(F16, 7, 33), 5), 4))
                .Concat(Top("[7, 33]", In.Of(BF16, 7, 33), 33))
                .Concat(Top("[5, 9]", In.Ids(I32, 6, 5, 9), 4))
                .Concat(Top("[5, 9]", In.Ids(I64, 6, 5, 9), 9));
            foreach (var row in rows) yield return row;
            bool descending = largest;
            foreach (var (label, x) in new[] { ("[3, 17]", In.Of(F32, 3, 17)), ("ties [7, 65]", Ties(In.Of(F32, 7, 65), 3)), ("[5, 9]", In.Ids(I32, 4, 5, 9)) })
                yield return new($"Argsort {label} {(descending ? "descending" : "ascending")} {N(x.DType)}", [x], t => t[0].Argsort(descending),
                    r => NaiveOps.TopK(r[0], r[0].Shape[^1], descending).Indices, Check.Exact, I32);
        }
    }

    private static IEnumerable<OpRow> GroupNormRows()
    {
        OpRow Gn(string label, In x, int channels, int groups, bool affine) =>
            new($"GroupNorm {label} groups {groups}{(affine ? " affine" : "")} {N(x.DType)}",
                affine ? [x, In.Of(x.DType, channels), In.Of(x.DType, channels)] : [x],
                t => t[0].GroupNorm(groups, affine ? t[1] : null, affine ? t[2] : null, 1e-5f),
                r => NaiveOps.GroupNorm(r[0], groups, affine ? r[1] : null, affine ? r[2] : null, 1e-5));
        foreach (int g in new[] { 1, 2, 3, 6 })
        {
            yield return Gn("[2, 6, 5]", In.Of(F32, 2, 6, 5), 6, g, affine: true);
            yield return Gn("[2, 6, 5]", In.Of(F32, 2, 6, 5), 6, g, affine: false);
        }
        yield return Gn("[1, 4, 3, 5]", In.Of(F32, 1, 4, 3, 5), 4, 2, affine: true);
        yield return Gn("[3, 8]", In.Of(F32, 3, 8), 8, 4, affine: true);
        yield return Gn("[1, 1, 7]", In.Of(F32, 1, 1, 7), 1, 1, affine: true);
        yield return Gn("perm [2, 6, 5]", In.Of(F32, 2, 5, 6).Viewed(t => t.Transpose(1, 2)), 6, 3, affine: true);
        yield return Gn("offset [2, 6, 7, 9]", In.Of(F32, 3, 6, 7, 9).Viewed(t => t.Narrow(0, 1, 2)), 6, 2, affine: true);
        yield return Gn("[2, 32, 17, 9] threads", In.Of(F32, 2, 32, 17, 9).Range(2, 6), 32, 8, affine: true);
        yield return Gn("[2, 6, 33]", In.Of(F16, 2, 6, 33), 6, 3, affine: true);
        yield return Gn("[2, 6, 33]", In.Of(BF16, 2, 6, 33), 6, 2, affine: true);
    }

    private static IEnumerable<OpRow> GatedRows()
    {
        // x [.., K] @ w^T [N, K] -> silu(. + bias) * multiplier + residual, through Linear (MatMul with a transposed
        // weight view), MatMul with a [K, N] right operand, and the quantized matmul.
        OpRow Gate(string label, In x, In w, In mul, bool bias, bool residual, Activation act = Activation.Silu)
        {
            int n = w.BaseShape[0];
            var ins = new List<In> { x, w, mul };
            if (bias) ins.Add(In.Of(x.DType, n));
            if (residual) ins.Add(In.Of(x.DType, n));
            int bi = 3, ri = bias ? 4 : 3;
            return new($"MatMul gated {label} {act}{(bias ? " bias" : "")}{(residual ? " residual" : "")} {N(x.DType)}{(x.DType != w.DType ? "@" + N(w.DType) : "")}",
                [.. ins], t => t[0].Linear(t[1], new MatMulEpilogue(bias ? t[bi] : null, act, residual ? t[ri] : null, t[2])),
                r => NaiveOps.GatedLinear(r[0], r[1], bias ? r[bi] : null, act, r[2], residual ? r[ri] : null));
        }
        foreach (var (m, k, n) in new[] { (1, 33, 17), (1, 65, 197), (7, 33, 65), (17, 65, 33), (65, 197, 130) })
        {
            yield return Gate($"{m}x{k}x{n}", In.Of(F32, m, k), In.Of(F32, n, k), In.Of(F32, m, n), bias: false, residual: false);
            yield return Gate($"{m}x{k}x{n}", In.Of(F32, m, k), In.Of(F32, n, k), In.Of(F32, m, n), bias: true, residual: true);
        }
        yield return Gate("7x33x65 mul [65]", In.Of(F32, 7, 33), In.Of(F32, 65, 33), In.Of(F32, 65), bias: true, residual: false);
        yield return Gate("1x33x65 mul [65]", In.Of(F32, 1, 33), In.Of(F32, 65, 33), In.Of(F32, 65), bias: false, residual: true);
        yield return Gate("7x33x65 mul T", In.Of(F32, 7, 33), In.Of(F32, 65, 33), In.Transposed(F32, 7, 65), bias: false, residual: true);
        yield return Gate("17x65x33 mul strided", In.Of(F32, 17, 65), In.Of(F32, 33, 65), In.Strided(F32, 17, 33), bias: true, residual: false, Activation.Gelu);
        yield return Gate("[2, 5, 33]x65", In.Of(F32, 2, 5, 33), In.Of(F32, 65, 33), In.Of(F32, 2, 5, 65), bias: true, residual: true);
        yield return Gate("7x33x65", In.Of(BF16, 7, 33), In.Of(BF16, 65, 33), In.Of(BF16, 7, 65), bias: true, residual: true);
        yield return Gate("1x65x33", In.Of(BF16, 1, 65), In.Of(BF16, 33, 65), In.Of(BF16, 1, 33), bias: false, residual: false);
        yield return Gate("7x33x65", In.Of(F16, 7, 33), In.Of(F16, 65, 33), In.Of(F16, 7, 65), bias: true, residual: false);
        yield return Gate("7x33x65", In.Of(F32, 7, 33), In.Of(BF16, 65, 33), In.Of(F32, 7, 65), bias: true, residual: true);
        yield return Gate("1x65x33", In.Of(F32, 1, 65), In.Of(BF16, 33, 65), In.Of(F32, 1, 33), bias: false, residual: true);

        // MatMul with a row-major [K, N] right operand (the GEMV's row-streaming path at M = 1).
        foreach (var (m, k, n) in new[] { (1, 33, 65), (7, 17, 33) })
            yield return new($"MatMul gated {m}x{k}x{n} nn Silu residual f32", [In.Of(F32, m, k), In.Of(F32, k, n), In.Of(F32, m, n), In.Of(F32, m, n)],
                t => t[0].MatMul(t[1], new MatMulEpilogue(null, Activation.Silu, t[3], t[2])),
                r => NaiveOps.GatedLinear(r[0], Transpose2(r[1]), null, Activation.Silu, r[2], r[3]));

        // Quantized weights: the reference uses the weight's dequantized values; the backend also quantizes the
        // activations to 8 bits, whence nmse 1e-4 (as QuantizedMatMulTests).
        foreach (var type in new[] { Q4_0, Q8_0 })
            foreach (var (m, k, n) in new[] { (1, 64, 33), (7, 96, 17), (17, 32, 65) })
                yield return new($"QuantizedMatMul gated {m}x{k}x{n} {N(type)} Silu bias residual f32",
                    [In.Of(F32, m, k), In.Of(F32, n, k), In.Of(F32, m, n), In.Of(F32, n), In.Of(F32, m, n)],
                    t => { using var w = Quantized(t[1], type); return t[0].Linear(w, new MatMulEpilogue(t[3], Activation.Silu, t[4], t[2])); },
                    r => NaiveOps.GatedLinear(r[0], Dequantized(r[1], type), r[3], Activation.Silu, r[2], r[4]), tolerance: 1e-4);
    }

    private static Nd Transpose2(Nd b)
    {
        int k = b.Shape[0], n = b.Shape[1];
        var t = Nd.Zeros(n, k);
        for (int i = 0; i < k; i++) for (int j = 0; j < n; j++) t.Data[j * k + i] = b.Data[i * n + j];
        return t;
    }

    /// <summary>A block-quantized copy of a float [N, K] weight on its backend.</summary>
    private static Tensor Quantized(Tensor w, DType type)
    {
        var bytes = new byte[type.ByteCount(w.ElementCount)];
        BlockQuant.Quantize(type, w.ToFloatArray(), bytes);
        using var raw = Tensor.FromArray(w.Backend, bytes, bytes.Length);
        return Tensor.FromStorage(raw.Storage, type, w.Shape);
    }

    private static Nd Dequantized(Nd w, DType type)
    {
        var bytes = new byte[type.ByteCount(w.Length)];
        BlockQuant.Quantize(type, w.Data.Select(v => (float)v).ToArray(), bytes);
        var values = new float[w.Length];
        BlockQuant.Dequantize(type, bytes, values);
        return new Nd(w.Shape, values.Select(v => (double)v).ToArray());
    }
}
