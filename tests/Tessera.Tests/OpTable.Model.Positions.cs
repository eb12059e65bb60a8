using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Model-layer rows about places and positions: writing into a slice of a bigger tensor (KV caches, concatenation in
// place), arange, sin/cos over wide ranges, and rotary embedding at explicit positions, checked against rotations
// whose angles the reference computes from the position ids themselves (never from the engine's tables).
public static partial class OpTable
{
    /// <summary>A row that copies x into a fresh tensor, then writes src into the slice start:start+len*step:step of
    /// <paramref name="axis"/> of it; the reference checks the whole result, so the rest must be untouched.</summary>
    private static OpRow SliceWrite(string label, In big, In src, int axis, int start, int len, int step = 1) =>
        new($"CopyInto {label} {N(src.DType)} to {N(big.DType)}", [big, src],
            t =>
            {
                var dst = Tensor.Empty(t[0].Backend, t[0].DType, t[0].Shape);
                t[0].CopyInto(dst);
                using var view = step == 1 ? dst.Narrow(axis, start, len) : dst.Slice(axis, start, start + len * step, step);
                t[1].CopyInto(view);
                return dst;
            },
            r =>
            {
                var result = new Nd(r[0].Shape, (double[])r[0].Data.Clone());
                var sliceShape = (int[])r[0].Shape.Clone();
                sliceShape[axis] = len;
                var s = r[1].BroadcastTo(sliceShape);
                for (int i = 0; i < s.Length; i++)
                {
                    var idx = Nd.Unravel(i, sliceShape);
                    idx[axis] = start + idx[axis] * step;
                    result[idx] = In.RoundTo(big.DType, s.Data[i]);
                }
                return result;
            }, Check.Exact);

    private static IEnumerable<OpRow> SliceWriteRows()
    {
        yield return SliceWrite("rows [3, 9] into [7, 9] at 2", In.Of(F32, 7, 9), In.Of(F32, 3, 9), 0, 2, 3);
        yield return SliceWrite("columns [5, 4] into [5, 17] at 6", In.Of(F32, 5, 17), In.Of(F32, 5, 4), 1, 6, 4);
        yield return SliceWrite("step 2 [4, 6] into [9, 6] at 1", In.Of(F32, 9, 6), In.Of(F32, 4, 6), 0, 1, 4, step: 2);
        yield return SliceWrite("broadcast [1, 9] into [7, 9] at 3", In.Of(F32, 7, 9), In.Of(F32, 1, 9), 0, 3, 3);
        yield return SliceWrite("T [5, 3] into [5, 17] at 0", In.Of(F32, 5, 17), In.Transposed(F32, 5, 3), 1, 0, 3);
        yield return SliceWrite("kv step [2, 3, 1, 5] into [2, 3, 11, 5] at 7", In.Of(F32, 2, 3, 11, 5), In.Of(F32, 2, 3, 1, 5), 2, 7, 1);
        yield return SliceWrite("kv [2, 3, 4, 5] into [2, 3, 11, 5] at 7", In.Of(F32, 2, 3, 11, 5), In.Of(F32, 2, 3, 4, 5), 2, 7, 4);
        yield return SliceWrite("[1] into [1] at 0", In.Of(F32, 1), In.Of(F32, 1), 0, 0, 1);
        yield return SliceWrite("[3, 65] into [7, 65] at 4", In.Of(F16, 7, 65), In.Of(F16, 3, 65), 0, 4, 3);
        yield return SliceWrite("[7, 5] into [7, 33] at 28", In.Of(BF16, 7, 33), In.Of(BF16, 7, 5), 1, 28, 5);
        yield return SliceWrite("[3, 9] into [7, 9] at 0", In.Of(BF16, 7, 9), In.Of(F32, 3, 9), 0, 0, 3);
        yield return SliceWrite("[2, 9] into [7, 9] at 5", In.Ids(I32, 1000, 7, 9), In.Ids(I32, 1000, 2, 9), 0, 5, 2);
    }

    private static IEnumerable<OpRow> ArangeRows()
    {
        // A dummy operand carries the backend to the row.
        OpRow Ar(double start, int count, double step, DType dt) =>
            new($"Arange {start} count {count} step {step} {N(dt)}", [In.Of(F32, 1)], t => Tensor.Arange(t[0].Backend, start, count, step, dt),
                _ => NaiveOps.Arange(start, count, step), Check.Exact, dt);
        yield return Ar(0, 17, 1, F32);
        yield return Ar(-3.5, 33, 0.25, F32);
        yield return Ar(1, 1, 1, F32);
        yield return Ar(0, 0, 1, F32);
        yield return Ar(-3.5, 33, 0.25, F16);
        yield return Ar(-3.5, 33, 0.25, BF16);
        yield return Ar(5, 7, -2, I32);
        yield return Ar(-1000, 65, 33, I64);
    }

    private static IEnumerable<OpRow> TrigRows()
    {
        // Beyond [-pi, pi] the argument reduction decides the accuracy (timestep embeddings reach 1000 radians).
        foreach (var op in new[] { UnaryOp.Sin, UnaryOp.Cos })
        {
            yield return Unary(op, "wide [1031]", In.Of(F32, 1031).Range(-1000, 1000));
            yield return Unary(op, "huge [1031]", In.Of(F32, 1031).Range(-1e6, 1e6));
            yield return Unary(op, "[129, 1031]", In.Of(F32, 129, 1031).Range(-10, 10));
        }
    }

    private static IEnumerable<OpRow> RopeAtRows()
    {
        const double Theta = 10000;
        OpRow At(RopeMode mode, string label, In x, In positions, int tablePositions, int rotary) =>
            new($"Rope at positions {mode} {label} {N(x.DType)} ids {N(positions.DType)}", [x, positions],
                t =>
                {
                    var (c, s) = RopeTables.Build1D(tablePositions, rotary, Theta);
                    using var ct = Tensor.FromArray(t[0].Backend, c, tablePositions, rotary / 2);
                    using var st = Tensor.FromArray(t[0].Backend, s, tablePositions, rotary / 2);
                    return t[0].Rope(ct, st, mode, t[1]);
                },
                r => NaiveOps.RopeAt(r[0], r[1], rotary, Theta, mode));

        int[] rowIds = [0, 0, 1, 1, 2, 5, 3], colIds = [0, 1, 0, 1, 4, 2, 3];
        foreach (var mode in Enum.GetValues<RopeMode>())
        {
            yield return At(mode, "[2, 3, 5, 16] by [5]", In.Of(F32, 2, 3, 5, 16), In.Ids(I32, 40, 5), 40, 16);
            yield return At(mode, "[7, 16] by [7]", In.Of(F32, 7, 16), In.Ids(I64, 40, 7), 40, 16);
            yield return At(mode, "[2, 3, 5, 12] by [2, 5] R 8", In.Of(F32, 2, 3, 5, 12), In.Ids(I32, 40, 2, 5), 40, 8);
            yield return At(mode, "perm [2, 3, 5, 16] by [2, 5]", In.Of(F32, 2, 5, 3, 16).Viewed(t => t.Permute(0, 2, 1, 3)), In.Ids(I32, 40, 2, 5), 40, 16);
            yield return At(mode, "decode [3, 2, 1, 8] by [3, 1]", In.Of(F32, 3, 2, 1, 8), In.Ids(I64, 100, 3, 1), 100, 8);
            yield return At(mode, "[3, 17, 64] by [3, 17]", In.Of(F32, 3, 17, 64), In.Ids(I32, 65, 3, 17), 65, 64);
            yield return At(mode, "[2, 3, 5, 16] by [2, 5]", In.Of(F16, 2, 3, 5, 16), In.Ids(I32, 40, 2, 5), 40, 16);
            yield return At(mode, "[2, 3, 5, 16] by [5]", In.Of(BF16, 2, 3, 5, 16), In.Ids(I32, 40, 5), 40, 16);

            // 2-D positions: tables built at explicit (row, col) ids, and a whole grid's table indexed by row * cols + col.
            var m = mode;
            yield return new($"Rope 2-D at explicit ids {mode} [2, 7, 16] f32", [In.Of(F32, 2, 7, 16)],
                t =>
                {
                    var (c, s) = RopeTables.Build2D(rowIds, colIds, 16);
                    using var ct = Tensor.FromArray(t[0].Backend, c, 7, 8);
                    using var st = Tensor.FromArray(t[0].Backend, s, 7, 8);
                    return t[0].Rope(ct, st, m);
                },
                r => NaiveOps.Rope2DAt(r[0], rowIds, colIds, 16, Theta, m));
            var flat = rowIds.Zip(colIds, (a, b) => (double)(a * 6 + b)).ToArray();
            yield return new($"Rope 2-D at grid ids {mode} [2, 3, 7, 24] R 16 f32", [In.Of(F32, 2, 3, 7, 24), In.Fixed(I32, [7], flat)],
                t =>
                {
                    var (c, s) = RopeTables.Build2D(6, 6, 16);
                    using var ct = Tensor.FromArray(t[0].Backend, c, 36, 8);
                    using var st = Tensor.FromArray(t[0].Backend, s, 36, 8);
                    return t[0].Rope(ct, st, m, t[1]);
                },
                r => NaiveOps.Rope2DAt(r[0], rowIds, colIds, 16, Theta, m));
        }
    }
}
