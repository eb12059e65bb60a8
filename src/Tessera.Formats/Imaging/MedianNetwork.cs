using System.Runtime.Intrinsics;

namespace Tessera.Imaging;

/// <summary>The median of n values by a comparator network, run on whole vectors of bytes at once: Batcher's odd-even
/// merge sort for n (comparators past n dropped, as if those values were +infinity), then pruned backwards to the
/// comparators the middle output depends on, each keeping only the min or max side that is used. Because every byte
/// lane is independent, the network runs directly on interleaved pixels: lane i of the vector loaded at offset
/// p + dx * channels + dy * stride is the neighbour (dx, dy) of the byte at p.</summary>
internal sealed class MedianNetwork
{
    private const int Min = 1, Max = 2;
    private readonly int[] _ops; // (a, b, which outputs are kept) triples
    private readonly int _n;

    private MedianNetwork(int n, int[] ops) { _n = n; _ops = ops; }

    private static readonly Dictionary<int, MedianNetwork> s_cache = [];

    /// <summary>The pruned median network of n (odd) inputs, built once per n.</summary>
    public static MedianNetwork For(int n)
    {
        lock (s_cache)
        {
            if (!s_cache.TryGetValue(n, out var net)) s_cache[n] = net = Build(n);
            return net;
        }
    }

    /// <summary>How many min/max instructions one vector of outputs costs.</summary>
    public int Cost { get { int c = 0; for (int i = 2; i < _ops.Length; i += 3) c += _ops[i] == 3 ? 2 : 1; return c; } }

    private static MedianNetwork Build(int n)
    {
        var all = new List<(int A, int B)>();
        for (int p = 1; p < n; p <<= 1)
            for (int k = p; k >= 1; k >>= 1)
                for (int j = k % p; j + k < n; j += 2 * k)
                    for (int i = 0; i < Math.Min(k, n - j - k); i++)
                        if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) all.Add((i + j, i + j + k));
        var needed = new bool[n];
        needed[n / 2] = true;
        var kept = new List<int>();
        for (int i = all.Count - 1; i >= 0; i--)
        {
            var (a, b) = all[i];
            int use = (needed[a] ? Min : 0) | (needed[b] ? Max : 0);
            if (use == 0) continue;
            kept.AddRange([use, b, a]); // reversed below
            needed[a] = needed[b] = true;
        }
        kept.Reverse();
        return new MedianNetwork(n, kept.ToArray());
    }

    /// <summary>One output row of the median filter: <paramref name="pad"/> points at the first of the window's rows in
    /// the border-padded image (row stride <paramref name="pstride"/> bytes); <paramref name="rowBytes"/> (at least
    /// one vector) output bytes.</summary>
    public unsafe void Row512(byte* pad, int pstride, int channels, int k, byte* dst, int rowBytes)
    {
        Span<Vector512<byte>> v = stackalloc Vector512<byte>[_n];
        var ops = _ops;
        for (int o = 0; ; o += Vector512<byte>.Count)
        {
            if (o > rowBytes - Vector512<byte>.Count) o = rowBytes - Vector512<byte>.Count;
            for (int dy = 0, t = 0; dy < k; dy++)
                for (int dx = 0; dx < k; dx++, t++) v[t] = Vector512.Load(pad + dy * pstride + o + dx * channels);
            for (int i = 0; i < ops.Length; i += 3)
            {
                int a = ops[i], b = ops[i + 1];
                var x = v[a]; var z = v[b];
                if ((ops[i + 2] & Min) != 0) v[a] = Vector512.Min(x, z);
                if ((ops[i + 2] & Max) != 0) v[b] = Vector512.Max(x, z);
            }
            v[_n / 2].Store(dst + o);
            if (o == rowBytes - Vector512<byte>.Count) break;
        }
    }

    /// <summary><see cref="Row512"/> with 256-bit vectors.</summary>
    public unsafe void Row256(byte* pad, int pstride, int channels, int k, byte* dst, int rowBytes)
    {
        Span<Vector256<byte>> v = stackalloc Vector256<byte>[_n];
        var ops = _ops;
        for (int o = 0; ; o += Vector256<byte>.Count)
        {
            if (o > rowBytes - Vector256<byte>.Count) o = rowBytes - Vector256<byte>.Count;
            for (int dy = 0, t = 0; dy < k; dy++)
                for (int dx = 0; dx < k; dx++, t++) v[t] = Vector256.Load(pad + dy * pstride + o + dx * channels);
            for (int i = 0; i < ops.Length; i += 3)
            {
                int a = ops[i], b = ops[i + 1];
                var x = v[a]; var z = v[b];
                if ((ops[i + 2] & Min) != 0) v[a] = Vector256.Min(x, z);
                if ((ops[i + 2] & Max) != 0) v[b] = Vector256.Max(x, z);
            }
            v[_n / 2].Store(dst + o);
            if (o == rowBytes - Vector256<byte>.Count) break;
        }
    }
}
