namespace Tessera.Attention;

/// <summary>Ring attention (Liu et al. 2023): a sequence split over the ranks of a ring, each holding its queries and
/// its K/V block. In N - 1 steps every K/V block visits every rank; each rank attends its queries to the block in
/// hand (sending that block on before computing, so the transfer overlaps the compute) and merges the partial
/// results exactly by log-sum-exp: o = sum_i exp(lse_i - lse) o_i, lse = log sum_i exp(lse_i). Blocks a rank's
/// queries cannot see at all (after them under causal masking, or outside the window) are forwarded without compute;
/// the diagonal block gets the causal mask through the block pair's query position. Splits may be uneven.</summary>
public static class RingAttention
{
    /// <summary>The part of one rank: q [B, Hq, Sq_r, D] at global positions qStart.., its K/V block [B, Hkv, S_r, D] at
    /// kStart... Positions are global: <paramref name="options"/>' QueryPosition (default 0, self-attention) is the
    /// key position of global query 0. Returns this rank's output [B, Hq, Sq_r, D] and log-sum-exp [B, Hq, Sq_r].</summary>
    public static async Task<(Tensor Output, Tensor LogSumExp)> RunRankAsync(IRingTransport transport, Tensor q, Tensor k, Tensor v,
        int qStart, int kStart, AttentionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= AttentionOptions.Default;
        int qpos = (options.QueryPosition ?? 0) + qStart, sq = q.Dim(2);
        Tensor? o = null, lse = null;
        var current = new KvBlock(k.Share(), v.Share(), kStart);
        try
        {
            for (int step = 0; step < transport.Size; step++)
            {
                // Start passing the block on before computing with it: the copy runs while this rank computes.
                ValueTask send = step < transport.Size - 1 ? transport.SendAsync(current, cancellationToken) : ValueTask.CompletedTask;
                if (Visible(options, qpos, sq, current.Start, current.Length))
                {
                    var (oi, li) = q.AttentionWithLse(current.K, current.V, options with { QueryPosition = qpos - current.Start });
                    if (o is null) { o = oi; lse = li; }
                    else
                    {
                        var merged = Merge(o, lse!, oi, li);
                        o.Dispose(); lse!.Dispose(); oi.Dispose(); li.Dispose();
                        (o, lse) = merged;
                    }
                }
                await send.ConfigureAwait(false);
                if (step < transport.Size - 1)
                {
                    var next = await transport.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                    current.Dispose();
                    current = next;
                }
            }
        }
        finally { current.Dispose(); }
        if (o is null)
        {
            // No key visible to any query of this rank: zeros and -inf, as the attention op defines.
            o = Tensor.Zeros(q.Backend, q.DType, q.Shape);
            lse = Tensor.Full(q.Backend, DType.F32, new Shape(q.Dim(0), q.Dim(1), sq), double.NegativeInfinity);
        }
        return (o, lse!);
    }

    /// <summary>Runs a ring over in-process devices: q, k, v [B, H, S, D] are split along S by <paramref name="lengths"/>
    /// (uneven splits allowed, each at least 1), rank r gets its slices on devices[r], and the ranks run concurrently.
    /// Returns each rank's output on its device.</summary>
    public static async Task<Tensor[]> RunInProcessAsync(IReadOnlyList<IBackend> devices, Tensor q, Tensor k, Tensor v, int[] lengths, AttentionOptions? options = null)
    {
        if (lengths.Length != devices.Count) throw new TesseraException($"ring attention: {lengths.Length} block lengths for {devices.Count} devices");
        if (lengths.Any(l => l < 1) || lengths.Sum() != q.Dim(2) || k.Dim(2) != q.Dim(2))
            throw new TesseraException($"ring attention: block lengths [{string.Join(", ", lengths)}] must be positive and sum to the sequence length of q {q.Shape} and k {k.Shape}");
        var transports = InProcessRing.Create(devices);
        var tasks = new Task<(Tensor, Tensor)>[devices.Count];
        int start = 0;
        for (int r = 0; r < devices.Count; r++)
        {
            int s = start, len = lengths[r], rank = r;
            tasks[r] = Task.Run(async () =>
            {
                using var qv = q.Narrow(2, s, len);
                using var kv = k.Narrow(2, s, len);
                using var vv = v.Narrow(2, s, len);
                using var qr = qv.ToBackend(devices[rank]);
                using var kr = kv.ToBackend(devices[rank]);
                using var vr = vv.ToBackend(devices[rank]);
                return await RunRankAsync(transports[rank], qr, kr, vr, s, s, options).ConfigureAwait(false);
            });
            start += len;
        }
        var results = await Task.WhenAll(tasks).ConfigureAwait(false);
        return results.Select(r => { r.Item2.Dispose(); return r.Item1; }).ToArray();
    }

    /// <summary>Whether any query at positions [qpos, qpos + sq) sees any key in [kStart, kStart + len).</summary>
    private static bool Visible(AttentionOptions o, int qpos, int sq, int kStart, int len)
    {
        if (sq == 0 || len == 0) return false;
        int firstKey = kStart, lastKey = kStart + len - 1, firstQ = qpos, lastQ = qpos + sq - 1;
        if (o.Causal && firstKey > lastQ) return false;
        if (o.WindowRight >= 0 && firstKey > lastQ + o.WindowRight) return false;
        if (o.WindowLeft >= 0 && lastKey < firstQ - o.WindowLeft) return false;
        return true;
    }

    /// <summary>Exact merge of two partial attentions over disjoint key sets, from tensor ops so that it runs on any
    /// backend. Log-sum-exps are floored at -1e30 so that rows with no visible key on either side merge to 0
    /// instead of NaN (-inf - -inf).</summary>
    private static (Tensor, Tensor) Merge(Tensor oa, Tensor la, Tensor ob, Tensor lb)
    {
        using var floor = Tensor.Full(la.Backend, DType.F32, new Shape(1), -1e30);
        using var a = la.Zip(BinaryOp.Max, floor);
        using var b = lb.Zip(BinaryOp.Max, floor);
        using var mx = a.Zip(BinaryOp.Max, b);
        using var da = a - mx;
        using var db = b - mx;
        using var ea = da.Map(UnaryOp.Exp);
        using var eb = db.Map(UnaryOp.Exp);
        using var sum = ea + eb;
        using var logSum = sum.Map(UnaryOp.Log);
        var lse = mx + logSum;
        using var wa0 = ea / sum;
        using var wb0 = eb / sum;
        using var wa = wa0.Unsqueeze(-1);
        using var wb = wb0.Unsqueeze(-1);
        using var ta = oa.DType == DType.F32 ? oa.Share() : oa.To(DType.F32);
        using var tb = ob.DType == DType.F32 ? ob.Share() : ob.To(DType.F32);
        using var pa = ta * wa;
        using var pb = tb * wb;
        using var o32 = pa + pb;
        return (o32.To(oa.DType), lse);
    }
}
