namespace Tessera.Models.Tests.OnnxNodes;

// MatMul, Gemm and the Einsum equations that are a matrix product (batch, free and contracted letters), a transpose
// or a sum: all on Tensor.MatMul with its epilogue, views and Reduce.
internal static class MatrixOps
{
    public static void Register(Dictionary<string, OnnxOp> ops)
    {
        ops["MatMul"] = MatMul;
        ops["Gemm"] = Gemm;
        ops["Einsum"] = Einsum;
    }

    // NumPy matmul: a rank-1 left operand is a row vector dropped from the result (Tensor.MatMul handles the right one).
    private static Tensor?[] MatMul(NodeContext c)
    {
        var a = c.FloatIn(0);
        var b = c.FloatIn(1);
        if (a.Rank != 1) return [a.MatMul(b)];
        using var row = a.Unsqueeze(0);
        using var y = row.MatMul(b);
        return [y.Squeeze(b.Rank == 1 ? 0 : -2)];
    }

    // Y = alpha A' B' + beta C, A' and B' transposed views when asked; alpha scales A, beta C goes in as the epilogue's
    // residual (broadcast to [M, N] as ONNX's unidirectional broadcast allows).
    private static Tensor?[] Gemm(NodeContext c)
    {
        float alpha = c.Float("alpha", 1f), beta = c.Float("beta", 1f);
        bool ta = c.Int("transA", 0) != 0, tb = c.Int("transB", 0) != 0;
        if (c.Opset < 7 && c.Has("broadcast")) c.Int("broadcast", 0);
        using var a0 = ta ? c.FloatIn(0).T : c.FloatIn(0).Share();
        using var a = alpha == 1f ? a0.Share() : a0.Affine(alpha);
        using var b = tb ? c.FloatIn(1).T : c.FloatIn(1).Share();
        var cin = c.Opt(2);
        using var residual = cin is null ? null : beta == 1f ? cin.Share() : cin.Affine(beta);
        return [a.MatMul(b, new MatMulEpilogue(Residual: residual))];
    }

    private static Tensor?[] Einsum(NodeContext c)
    {
        string eq = c.Str("equation", "").Replace(" ", "");
        if (eq.Contains("...")) throw new NotMappedException($"Einsum '{eq}': ellipsis is not mapped");
        string[] sides = eq.Split("->");
        string[] terms = sides[0].Split(',');
        // Without "->" the output is every letter that appears once, in alphabetical order.
        string output = sides.Length > 1 ? sides[1]
            : new string([.. terms.SelectMany(t => t).GroupBy(ch => ch).Where(g => g.Count() == 1).Select(g => g.Key).Order()]);
        foreach (var t in terms.Append(output))
            if (t.Distinct().Count() != t.Length) throw new NotMappedException($"Einsum '{eq}': a letter repeated within one operand (a diagonal) is not mapped");
        if (terms.Length == 1) return [Unary(c.FloatIn(0), terms[0], output)];
        if (terms.Length != 2) throw new NotMappedException($"Einsum '{eq}': {terms.Length} operands (one or two are mapped)");
        return [Binary(c.FloatIn(0), terms[0], c.FloatIn(1), terms[1], output)];
    }

    // Sum the letters the output lacks, then permute into the output's order.
    private static Tensor Unary(Tensor x, string term, string output)
    {
        var y = x.Share();
        var letters = term.ToList();
        for (int i = letters.Count - 1; i >= 0; i--)
        {
            if (output.Contains(letters[i])) continue;
            using var prev = y;
            y = prev.Sum(i);
            letters.RemoveAt(i);
        }
        using (y)
        {
            using var p = y.Permute([.. output.Select(ch => letters.IndexOf(ch))]);
            return p.Contiguous();
        }
    }

    // Batch letters (in both and the output), contracted letters (in both, not the output), free letters of each side;
    // a letter in one operand only and not in the output is summed first. Then [batch, M, K] @ [batch, K, N].
    private static Tensor Binary(Tensor a, string ta, Tensor b, string tb, string output)
    {
        string ka = new([.. ta.Where(ch => tb.Contains(ch) || output.Contains(ch))]);
        string kb = new([.. tb.Where(ch => ta.Contains(ch) || output.Contains(ch))]);
        using var a1 = Unary(a, ta, ka);
        using var b1 = Unary(b, tb, kb);
        (ta, tb) = (ka, kb);
        string batch = new([.. ta.Where(ch => tb.Contains(ch) && output.Contains(ch))]);
        string k = new([.. ta.Where(ch => tb.Contains(ch) && !output.Contains(ch))]);
        string m = new([.. ta.Where(ch => !tb.Contains(ch))]);
        string n = new([.. tb.Where(ch => !ta.Contains(ch))]);
        int Size(Tensor t, string term, string letters) => letters.Aggregate(1, (p, ch) => p * t.Shape[term.IndexOf(ch)]);
        using var am = Arrange(a1, ta, batch + m + k, [.. batch.Select(ch => a1.Shape[ta.IndexOf(ch)]), Size(a1, ta, m), Size(a1, ta, k)]);
        using var bm = Arrange(b1, tb, batch + k + n, [.. batch.Select(ch => b1.Shape[tb.IndexOf(ch)]), Size(b1, tb, k), Size(b1, tb, n)]);
        using var y = am.MatMul(bm);
        string got = batch + m + n;
        int[] dims = [.. got.Select(ch => ta.Contains(ch) ? a1.Shape[ta.IndexOf(ch)] : b1.Shape[tb.IndexOf(ch)])];
        using var full = y.Reshape(dims);
        using var p = full.Permute([.. output.Select(ch => got.IndexOf(ch))]);
        return p.Contiguous();
    }

    private static Tensor Arrange(Tensor t, string term, string order, int[] dims)
    {
        using var p = t.Permute([.. order.Select(ch => term.IndexOf(ch))]);
        using var c = p.Contiguous();
        return c.Reshape(dims);
    }
}
