using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Rows for ops that move or select data: gather, reductions, concat, copy with dtype conversion, fill.
public static partial class OpTable
{
    private static IEnumerable<OpRow> DataMovement()
    {
        // ---- gather: rows of a [V, D] table by i32 or i64 ids of any shape; values are copied, so exactly.
        OpRow Gather(string label, In table, In ids) =>
            new($"Gather {label} {N(table.DType)} ids {N(ids.DType)}", [table, ids], t => t[0].Gather(t[1]), r => NaiveOps.Gather(r[0], r[1]), Check.Exact);
        yield return Gather("[11, 7] by [5]", In.Of(F32, 11, 7), In.Ids(I32, 11, 5));
        yield return Gather("[11, 7] by [2, 3]", In.Of(F32, 11, 7), In.Ids(I64, 11, 2, 3));
        yield return Gather("[1, 1] by [1]", In.Of(F32, 1, 1), In.Ids(I32, 1, 1));
        yield return Gather("[3, 33] by [9] repeated", In.Of(F32, 3, 33), In.Ids(I32, 3, 9));
        yield return Gather("[1000, 96] by [197]", In.Of(F32, 1000, 96), In.Ids(I32, 1000, 197));
        yield return Gather("T [11, 7] by [5]", In.Transposed(F32, 11, 7), In.Ids(I32, 11, 5));
        yield return Gather("strided [11, 7] by [2, 3]", In.Strided(F32, 11, 7), In.Ids(I64, 11, 2, 3));
        yield return Gather("[11, 7] by T [2, 3]", In.Of(F32, 11, 7), In.Ids(I32, 11, 3, 2).Viewed(t => t.T));
        yield return Gather("[17, 65] by [4, 5]", In.Of(F16, 17, 65), In.Ids(I32, 17, 4, 5));
        yield return Gather("[17, 65] by [4, 5]", In.Of(BF16, 17, 65), In.Ids(I64, 17, 4, 5));

        // ---- reductions over any axis; max, min and argmax select a value, so they must be exact.
        foreach (var op in Enum.GetValues<ReduceOp>())
        {
            var check = op is ReduceOp.Sum or ReduceOp.Mean ? Check.Nmse : Check.Exact;
            OpRow Red(string label, In x, int axis, bool keep = false) =>
                new($"Reduce {op} {label} axis {axis}{(keep ? " keep" : "")} {N(x.DType)}", [x],
                    t => t[0].Reduce(op, axis, keep), r => NaiveOps.Reduce(op, r[0], axis, keep), check, op == ReduceOp.ArgMax ? I32 : null);
            for (int axis = 0; axis < 3; axis++) yield return Red("[3, 17, 7]", In.Of(F32, 3, 17, 7), axis);
            yield return Red("[3, 17, 7]", In.Of(F32, 3, 17, 7), -2, keep: true);
            yield return Red("[1]", In.Of(F32, 1), 0);
            yield return Red("[1, 65]", In.Of(F32, 1, 65), 1, keep: true);
            yield return Red("[65, 1]", In.Of(F32, 65, 1), 0, keep: true);
            yield return Red("[197, 33]", In.Of(F32, 197, 33), 0);
            yield return Red("[197, 33]", In.Of(F32, 197, 33), 1);
            yield return Red("[2, 1031]", In.Of(F32, 2, 1031), -1);
            yield return Red("T [17, 33]", In.Transposed(F32, 17, 33), -1);
            yield return Red("strided [5, 9]", In.Strided(F32, 5, 9), 0);
            yield return Red("perm [2, 5, 3, 7]", In.Of(F32, 2, 3, 5, 7).Viewed(t => t.Permute(0, 2, 1, 3)), 2);
            // Few distinct values, so every row has ties: argmax must pick the first maximum.
            yield return Red("ties [7, 65]", new In(F32, [7, 65], (r, _) => r.Next(4)), -1);
            yield return Red("ties [17, 33]", new In(F32, [17, 33], (r, _) => r.Next(4)), 0);
            yield return Red("[7, 65]", In.Of(F16, 7, 65), -1);
            yield return Red("[7, 65]", In.Of(BF16, 7, 65), 0);
        }

        // ---- concat; values are copied, so exactly.
        OpRow Cat(string label, int axis, params In[] parts) =>
            new($"Concat {label} axis {axis} {N(parts[0].DType)}", parts, t => Tensor.Concat(axis, t), r => NaiveOps.Concat(axis, r), Check.Exact);
        yield return Cat("[3, 17] [1, 17] [7, 17]", 0, In.Of(F32, 3, 17), In.Of(F32, 1, 17), In.Of(F32, 7, 17));
        yield return Cat("[5, 3] [5, 17]", 1, In.Of(F32, 5, 3), In.Of(F32, 5, 17));
        yield return Cat("[2, 3, 5] [2, 3, 1]", -1, In.Of(F32, 2, 3, 5), In.Of(F32, 2, 3, 1));
        yield return Cat("T [7, 5] strided [7, 9] [7, 1]", 1, In.Transposed(F32, 7, 5), In.Strided(F32, 7, 9), In.Of(F32, 7, 1));
        yield return Cat("[1] [1]", 0, In.Of(F32, 1), In.Of(F32, 1));
        yield return Cat("[3, 17] [4, 17]", 0, In.Of(F16, 3, 17), In.Of(F16, 4, 17));
        yield return Cat("[3, 5] [3, 17]", 1, In.Of(BF16, 3, 5), In.Of(BF16, 3, 17));
        yield return Cat("[2, 3] [2, 4]", 1, In.Ids(I32, 1000, 2, 3), In.Ids(I32, 1000, 2, 4));

        // ---- copy (Contiguous) of every kind of view, and dtype conversion (To), strided or not.
        OpRow Copy(string label, In x, DType to) =>
            new($"Copy {label} {N(x.DType)} to {N(to)}", [x], t => to == t[0].DType ? t[0].Contiguous() : t[0].To(to),
                r => new Nd(r[0].Shape, r[0].Data.Select(v => In.RoundTo(to, v)).ToArray()), Check.Exact, to);
        foreach (var (label, x) in new (string, In)[]
        {
            ("T [17, 33]", In.Transposed(F32, 17, 33)),
            ("perm [7, 3, 2, 5]", In.Of(F32, 2, 3, 5, 7).Viewed(t => t.Permute(3, 1, 0, 2))),
            ("strided [5, 9]", In.Strided(F32, 5, 9)),
            ("broadcast [1, 17] to [4, 17]", In.Broadcast(F32, [1, 17], [4, 17])),
            ("broadcast [3, 1] to [2, 3, 5]", In.Broadcast(F32, [3, 1], [2, 3, 5])),
            ("slice [-5:-1] of [9, 3]", In.Of(F32, 9, 3).Viewed(t => t.Slice(0, -5, -1))),
            ("position 3 of [1, 12, 9, 65]", In.Of(F32, 1, 12, 9, 65).Viewed(t => t.Narrow(2, 3, 1))),
            ("perm [3, 40, 200]", In.Of(F32, 40, 3, 200).Viewed(t => t.Permute(1, 0, 2))),
        })
            yield return Copy(label, x, F32);
        foreach (var (from, to) in new[] { (F32, F16), (F32, BF16), (F16, F32), (BF16, F32), (F16, BF16), (BF16, F16) })
        {
            yield return Copy("[7, 65]", In.Of(from, 7, 65).Range(-300, 300), to);
            yield return Copy("T [17, 33]", In.Transposed(from, 17, 33).Range(-300, 300), to);
        }

        // ---- fill of a strided view: only the viewed elements change.
        foreach (var dt in new[] { F32, F16, BF16 })
            yield return new($"Fill strided [5, 9] step 2 {N(dt)}", [In.Of(dt, 1)],
                t =>
                {
                    var dst = Tensor.Zeros(t[0].Backend, dt, new Shape(5, 9));
                    using var v = dst.Slice(1, 0, 9, 2);
                    t[0].Backend.Fill(v, 1.0 / 3);
                    return dst;
                },
                _ => new Nd([5, 9], Enumerable.Range(0, 45).Select(i => i % 9 % 2 == 0 ? In.RoundTo(dt, 1.0 / 3) : 0).ToArray()),
                Check.Exact);
    }
}
