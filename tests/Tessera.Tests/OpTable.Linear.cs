using Tessera.Tests.Reference;
using static Tessera.DType;

namespace Tessera.Tests;

// Rows for matmul (with its epilogue), softmax, the norms and rotary embedding.
public static partial class OpTable
{
    /// <summary>A [K, N] right operand in a given layout: "n" contiguous, "t" the transpose of a contiguous
    /// [N, K] (nn.Linear's weight layout), "s" strided.</summary>
    private static In Rhs(DType dt, int k, int n, char layout) => layout switch
    {
        't' => In.Transposed(dt, k, n),
        's' => In.Strided(dt, k, n),
        _ => In.Of(dt, k, n),
    };

    private static In Lhs(DType dt, int m, int k, char layout) => layout switch
    {
        't' => In.Transposed(dt, m, k),
        's' => In.Strided(dt, m, k),
        _ => In.Of(dt, m, k),
    };

    private static OpRow Mm(string label, In a, In b) =>
        new($"MatMul {label} {N(a.DType)}{(a.DType != b.DType ? "@" + N(b.DType) : "")}", [a, b], t => t[0].MatMul(t[1]), r => NaiveOps.MatMul(r[0], r[1]));

    /// <summary>a @ b with bias [N], an activation and optionally a residual.</summary>
    private static OpRow MmEpilogue(string label, In a, In b, Activation act, In? residual)
    {
        int n = b.View is null ? b.BaseShape[^1] : b.BaseShape[^2]; // plain or transposed layouts only
        var ins = residual is null ? new[] { a, b, In.Of(a.DType, n) } : [a, b, In.Of(a.DType, n), residual];
        return new($"MatMul {label} bias {act}{(residual is null ? "" : " residual")} {N(a.DType)}{(a.DType != b.DType ? "@" + N(b.DType) : "")}", ins,
            t => t[0].MatMul(t[1], new MatMulEpilogue(t[2], act, residual is null ? null : t[3])),
            r => NaiveOps.MatMul(r[0], r[1], r[2], act, residual is null ? null : r[3]));
    }

    private static IEnumerable<OpRow> Linear()
    {
        // ---- plain products over odd shapes, in every operand layout.
        foreach (var (m, k, n) in new[] { (1, 1, 1), (1, 7, 3), (1, 65, 197), (3, 17, 7), (7, 33, 65), (17, 1, 33), (33, 197, 1), (65, 65, 65), (197, 96, 130), (64, 128, 96), (4, 1031, 5) })
            foreach (var layout in new[] { "nn", "nt", "tn", "tt", "sn", "ns" })
            {
                if (layout != "nn" && layout != "nt" && (m * k * n > 100_000 || m == 1 && k == 1)) continue; // layouts on the small shapes only
                yield return Mm($"{m}x{k}x{n} {layout}", Lhs(F32, m, k, layout[0]), Rhs(F32, k, n, layout[1]));
            }
        yield return Mm("3x0x5 empty K", In.Of(F32, 3, 0), In.Of(F32, 0, 5));

        // ---- batches: equal, broadcast, leading (a linear layer on [B, S, D]), permuted (attention scores).
        yield return Mm("[2, 3, 17, 33] @ [2, 3, 33, 7]", In.Of(F32, 2, 3, 17, 33), In.Of(F32, 2, 3, 33, 7));
        yield return Mm("[2, 1, 5, 7] @ [3, 7, 4]", In.Of(F32, 2, 1, 5, 7), In.Of(F32, 3, 7, 4));
        yield return Mm("[4, 5, 7] @ [7, 3]", In.Of(F32, 4, 5, 7), In.Of(F32, 7, 3));
        yield return Mm("[5, 7] @ [2, 7, 3]", In.Of(F32, 5, 7), In.Of(F32, 2, 7, 3));
        yield return Mm("[3, 65, 33] @ T[33, 17]", In.Of(F32, 3, 65, 33), In.Transposed(F32, 33, 17));
        yield return Mm("q [2, 7, 3, 5] perm @ k perm",
            In.Of(F32, 2, 7, 3, 5).Viewed(t => t.Permute(0, 2, 1, 3)),   // [B, H, S, D]
            In.Of(F32, 2, 7, 3, 5).Viewed(t => t.Permute(0, 2, 3, 1)));  // [B, H, D, S]
        yield return Mm("[7, 33] @ [33] vector", In.Of(F32, 7, 33), In.Of(F32, 33));
        yield return Mm("[2, 5, 7] @ [7] vector", In.Of(F32, 2, 5, 7), In.Of(F32, 7));

        // ---- the epilogue: bias, each activation, residual (full, row-broadcast, column-broadcast).
        foreach (var act in Enum.GetValues<Activation>())
            yield return MmEpilogue("7x33x65", In.Of(F32, 7, 33), In.Of(F32, 33, 65), act, null);
        yield return MmEpilogue("17x33x65 nt", In.Of(F32, 17, 33), In.Transposed(F32, 33, 65), Activation.None, In.Of(F32, 17, 65));
        yield return MmEpilogue("17x33x65 [65] residual", In.Of(F32, 17, 33), In.Of(F32, 33, 65), Activation.Gelu, In.Of(F32, 65));
        yield return MmEpilogue("17x33x65 [17, 1] residual", In.Of(F32, 17, 33), In.Of(F32, 33, 65), Activation.Silu, In.Of(F32, 17, 1));
        yield return MmEpilogue("[2, 5, 33] @ T[33, 65]", In.Of(F32, 2, 5, 33), In.Transposed(F32, 33, 65), Activation.QuickGelu, In.Of(F32, 2, 5, 65));
        yield return MmEpilogue("197x96x130 nt", In.Of(F32, 197, 96), In.Transposed(F32, 96, 130), Activation.Gelu, In.Of(F32, 197, 130));
        yield return new("MatMul 17x33x65 strided bias T residual f32", [In.Of(F32, 17, 33), In.Of(F32, 33, 65), In.Of(F32, 130).Viewed(t => t.Slice(0, 1, 130, 2)), In.Transposed(F32, 17, 65)],
            t => t[0].MatMul(t[1], new MatMulEpilogue(t[2], Activation.Relu, t[3])), r => NaiveOps.MatMul(r[0], r[1], r[2], Activation.Relu, r[3]));
        yield return new("MatMul 7x33x65 residual only f32", [In.Of(F32, 7, 33), In.Of(F32, 33, 65), In.Of(F32, 7, 65)],
            t => t[0].MatMul(t[1], new MatMulEpilogue(Residual: t[2])), r => NaiveOps.MatMul(r[0], r[1], null, Activation.None, r[2]));
        yield return new("MatMul 3x0x5 empty K bias f32", [In.Of(F32, 3, 0), In.Of(F32, 0, 5), In.Of(F32, 5)],
            t => t[0].MatMul(t[1], new MatMulEpilogue(t[2])), r => NaiveOps.MatMul(r[0], r[1], r[2]));

        // ---- 16-bit operands, and f32 activations against 16-bit weights.
        foreach (var dt in new[] { F16, BF16 })
        {
            yield return Mm("7x33x65 nn", In.Of(dt, 7, 33), In.Of(dt, 33, 65));
            yield return Mm("65x65x65 nt", In.Of(dt, 65, 65), In.Transposed(dt, 65, 65));
            yield return Mm("[2, 3, 17, 33] @ [2, 3, 33, 7]", In.Of(dt, 2, 3, 17, 33), In.Of(dt, 2, 3, 33, 7));
            yield return MmEpilogue("17x33x65 nt", In.Of(dt, 17, 33), In.Transposed(dt, 33, 65), Activation.Silu, In.Of(dt, 17, 65));
            yield return Mm("17x33x65 nt", In.Of(F32, 17, 33), In.Transposed(dt, 33, 65));
            yield return Mm("1x65x197 nt", In.Of(F32, 1, 65), In.Transposed(dt, 65, 197));
            yield return MmEpilogue("[2, 5, 33] @ T[33, 65]", In.Of(F32, 2, 5, 33), In.Transposed(dt, 33, 65), Activation.Gelu, In.Of(F32, 2, 5, 65));
        }
        yield return Mm("197x96x130 nt", In.Of(F32, 197, 96), In.Transposed(BF16, 96, 130));
    }

    private static IEnumerable<OpRow> RowOps()
    {
        // ---- softmax(x * scale + mask) over the last axis.
        OpRow Sm(string label, In x, In? mask = null, float scale = 1) => mask is null
            ? new($"Softmax {label}{(scale != 1 ? $" scale {scale}" : "")} {N(x.DType)}", [x], t => t[0].Softmax(null, scale), r => NaiveOps.Softmax(r[0], null, scale))
            : new($"Softmax {label} mask{(scale != 1 ? $" scale {scale}" : "")} {N(x.DType)}", [x, mask], t => t[0].Softmax(t[1], scale), r => NaiveOps.Softmax(r[0], r[1], scale));
        foreach (var shape in new[] { new[] { 1, 1 }, [1, 7], [3, 17], [7, 65], [2, 3, 5, 33], [1, 1031], [65, 197] })
            yield return Sm(S(shape), In.Of(F32, shape).Range(-4, 4));
        yield return Sm("[7, 65]", In.Of(F32, 7, 65).Range(-4, 4), scale: 0.125f);
        yield return Sm("[3, 65] large logits", In.Of(F32, 3, 65).Range(-100, 100));
        yield return Sm("T [17, 33]", In.Transposed(F32, 17, 33).Range(-4, 4));
        yield return Sm("[7, 65] [7, 65]", In.Of(F32, 7, 65), In.Of(F32, 7, 65).Range(-3, 3));
        yield return Sm("[17, 33] T [17, 33]", In.Of(F32, 17, 33), In.Transposed(F32, 17, 33).Range(-3, 3));
        yield return Sm("[7, 65] [1, 65]", In.Of(F32, 7, 65), In.Of(F32, 1, 65).Range(-3, 3), 0.5f);
        foreach (var dt in new[] { F32, F16, BF16 })
            yield return Sm("[2, 3, 5, 5] causal [5, 5]", In.Of(dt, 2, 3, 5, 5).Range(-4, 4), Causal(dt, 5), 0.3f);
        yield return Sm("[7, 65]", In.Of(F16, 7, 65).Range(-4, 4));
        yield return Sm("[7, 65]", In.Of(BF16, 7, 65).Range(-4, 4));

        // ---- LayerNorm, weights near 1.
        OpRow Ln(string label, In x, bool weight, bool bias, DType? wt = null, float eps = 1e-5f)
        {
            int d = x.View is null ? x.BaseShape[^1] : x.BaseShape[^2];
            var ins = new List<In> { x };
            if (weight) ins.Add(In.Of(wt ?? x.DType, d).Range(0.5, 1.5));
            if (bias) ins.Add(In.Of(wt ?? x.DType, d));
            return new($"LayerNorm {label}{(weight ? " w" : "")}{(bias ? " b" : "")}{(wt is { } w && w != x.DType ? " " + N(w) : "")}{(eps != 1e-5f ? $" eps {eps}" : "")} {N(x.DType)}",
                ins.ToArray(),
                t => t[0].LayerNorm(weight ? t[1] : null, bias ? t[weight ? 2 : 1] : null, eps),
                r => NaiveOps.LayerNorm(r[0], weight ? r[1] : null, bias ? r[weight ? 2 : 1] : null, eps));
        }
        foreach (var shape in new[] { new[] { 1, 1 }, [1, 7], [3, 17], [7, 768], [2, 3, 65], [65, 197] })
            yield return Ln(S(shape), In.Of(F32, shape), true, true);
        yield return Ln("[3, 17]", In.Of(F32, 3, 17), false, false);
        yield return Ln("[3, 17]", In.Of(F32, 3, 17), true, false);
        yield return Ln("[7, 65] mean 100", In.Of(F32, 7, 65).Range(99, 101), true, true);
        yield return Ln("[7, 65] small", In.Of(F32, 7, 65).Range(-0.01, 0.01), true, true, eps: 1e-3f);
        yield return Ln("T [17, 33]", In.Transposed(F32, 17, 33), true, true);
        yield return Ln("[7, 65]", In.Of(F16, 7, 65), true, true, F32);
        yield return Ln("[7, 65]", In.Of(F16, 7, 65), true, true);
        yield return Ln("[7, 65]", In.Of(BF16, 7, 65), true, true);
        yield return Ln("[7, 65]", In.Of(BF16, 7, 65), true, true, F32);

        // ---- RMSNorm.
        OpRow Rms(string label, In x, bool weight, DType? wt = null, float eps = 1e-6f)
        {
            int d = x.View is null ? x.BaseShape[^1] : x.BaseShape[^2];
            var ins = weight ? new[] { x, In.Of(wt ?? x.DType, d).Range(0.5, 1.5) } : [x];
            return new($"RmsNorm {label}{(weight ? " w" : "")}{(wt is { } w && w != x.DType ? " " + N(w) : "")}{(eps != 1e-6f ? $" eps {eps}" : "")} {N(x.DType)}",
                ins, t => t[0].RmsNorm(weight ? t[1] : null, eps), r => NaiveOps.RmsNorm(r[0], weight ? r[1] : null, eps));
        }
        foreach (var shape in new[] { new[] { 1, 1 }, [1, 7], [3, 17], [7, 768], [2, 3, 65], [65, 197] })
            yield return Rms(S(shape), In.Of(F32, shape), true);
        yield return Rms("[3, 17]", In.Of(F32, 3, 17), false);
        // Past the small-op direct path (16384 elements): the row driver, split over threads.
        yield return Rms("[9, 2049]", In.Of(F32, 9, 2049), true);
        yield return Rms("[1, 1, 769]", In.Of(F32, 1, 1, 769), true);
        yield return Rms("[7, 65] small", In.Of(F32, 7, 65).Range(-0.01, 0.01), true, eps: 1e-3f);
        yield return Rms("T [17, 33]", In.Transposed(F32, 17, 33), true);
        yield return Rms("[7, 65]", In.Of(F16, 7, 65), true, F32);
        yield return Rms("[7, 65]", In.Of(BF16, 7, 65), true);

        // ---- rotary embedding: full and partial rotary dims, both pairings, 1-D and 2-D tables.
        foreach (var mode in Enum.GetValues<RopeMode>())
        {
            yield return RopeRow(mode, "[5, 8] R 8", In.Of(F32, 5, 8), 8);
            yield return RopeRow(mode, "[2, 3, 7, 16] R 16", In.Of(F32, 2, 3, 7, 16), 16);
            yield return RopeRow(mode, "[3, 17, 12] R 8", In.Of(F32, 3, 17, 12), 8);
            yield return RopeRow(mode, "[5, 7] R 4", In.Of(F32, 5, 7), 4);
            yield return RopeRow(mode, "[4, 1, 64] R 64", In.Of(F32, 4, 1, 64), 64);
            yield return RopeRow(mode, "[2, 7, 3, 16] perm R 16", In.Of(F32, 2, 7, 3, 16).Viewed(t => t.Permute(0, 2, 1, 3)), 16, positions: 7);
            yield return RopeRow(mode, "strided [5, 8] R 8", In.Strided(F32, 5, 8), 8, positions: 5);
            // A decode step's q heads (one position, heads permuted in front), and past the direct path's 16384 elements.
            yield return RopeRow(mode, "[1, 1, 12, 66] perm R 64", In.Of(F32, 1, 1, 12, 66).Viewed(t => t.Permute(0, 2, 1, 3)), 64, positions: 1);
            yield return RopeRow(mode, "[3, 40, 2, 72] perm R 64", In.Of(F32, 3, 40, 2, 72).Viewed(t => t.Permute(0, 2, 1, 3)), 64, positions: 40);
            yield return RopeRow(mode, "[2, 12, 24] 2-D R 16", In.Of(F32, 2, 12, 24), 16, grid: (3, 4));
            yield return RopeRow(mode, "[2, 7, 16] R 16", In.Of(F16, 2, 7, 16), 16);
            yield return RopeRow(mode, "[2, 7, 16] R 8", In.Of(BF16, 2, 7, 16), 8);
        }
    }

    /// <summary>A causal mask [s, s]: 0 on and below the diagonal, -inf above.</summary>
    private static In Causal(DType dt, int s) =>
        In.Fixed(dt, [s, s], Enumerable.Range(0, s * s).Select(i => i % s <= i / s ? 0.0 : double.NegativeInfinity).ToArray());

    /// <summary>A rope row; <paramref name="positions"/> is S when x is a view (its base has another shape).</summary>
    private static OpRow RopeRow(RopeMode mode, string label, In x, int rotary, (int Rows, int Cols)? grid = null, int? positions = null)
    {
        int s = positions ?? x.BaseShape[^2];
        var (cos, sin) = grid is { } g ? RopeTables.Build2D(g.Rows, g.Cols, rotary) : RopeTables.Build1D(s, rotary, start: 3);
        var c = In.Fixed(F32, [s, rotary / 2], cos.Select(v => (double)v).ToArray());
        var sn = In.Fixed(F32, [s, rotary / 2], sin.Select(v => (double)v).ToArray());
        return new($"Rope {mode} {label} {N(x.DType)}", [x, c, sn], t => t[0].Rope(t[1], t[2], mode), r => NaiveOps.Rope(r[0], r[1], r[2], mode));
    }
}
