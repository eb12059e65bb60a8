using System.Numerics;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// Top-k along the last axis. Each row's elements get a sort key with a total order (floats widen to double with
// +inf moved to double.MaxValue and NaN to +infinity, so NaN ranks above every number; integers widen to long), and
// ties go to the lower index. A small k keeps a sorted buffer of the best k seen so far (one comparison per element
// once it is full: sampling over a 32k vocabulary); a large k sorts the row's indices. Values are copied as bits
// from x, so they are exactly x's elements.
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void TopK(Tensor x, int k, bool largest, Tensor values, Tensor indices)
    {
        Check(x.Rank >= 1 && !x.DType.IsBlock() && k >= 0 && k <= x.Shape[-1],
            $"top_k: x {x.DType.Name()} {x.Shape} needs rank >= 1, a plain dtype and k = {k} in [0, {(x.Rank >= 1 ? x.Shape[-1] : 0)}]");
        var shape = x.Shape.With(-1, k);
        Check(values.DType == x.DType && values.IsContiguous && values.Shape.Equals(shape)
              && indices.DType == DType.I32 && indices.IsContiguous && indices.Shape.Equals(shape),
            $"top_k: values {values.DType.Name()} {values.Shape} and indices {indices.DType.Name()} {indices.Shape} must be contiguous {x.DType.Name()} and i32 {shape}");
        if (values.ElementCount == 0) return;
        if (x.DType.IsFloat()) TopKRows<double>(x, k, largest, values, indices, FloatKeys);
        else TopKRows<long>(x, k, largest, values, indices, IntegerKeys);
    }

    private delegate void KeyLoader<T>(byte* row, DType t, long stride, int n, T* keys, float* scratch) where T : unmanaged;

    private static void FloatKeys(byte* row, DType t, long stride, int n, double* keys, float* scratch)
    {
        float* v = RowIo.Load(row, t, stride, n, scratch);
        for (int i = 0; i < n; i++)
        {
            float f = v[i];
            keys[i] = float.IsNaN(f) ? double.PositiveInfinity : f == float.PositiveInfinity ? double.MaxValue : f;
        }
    }

    private static void IntegerKeys(byte* row, DType t, long stride, int n, long* keys, float* scratch)
    {
        int es = ElementSize(t);
        for (int i = 0; i < n; i++) keys[i] = ReadInteger(row + i * stride * es, t);
    }

    private void TopKRows<T>(Tensor x, int k, bool largest, Tensor values, Tensor indices, KeyLoader<T> load)
        where T : unmanaged, IComparisonOperators<T, T, bool>
    {
        int n = x.Shape[-1];
        long inner = x.Strides[^1];
        var idx = new StridedIndex(x.Shape, x);
        byte* xb = Ptr(x), vb = Ptr(values);
        int* ib = Ptr<int>(indices);
        DType t = x.DType;
        int es = ElementSize(t);
        bool partial = (long)k * 8 <= n;
        CpuParallel.For(idx.Rows, Threads, Math.Max(1, 8192 / n), (r0, r1) =>
        {
            var keys = new T[n];
            var order = new int[partial ? k : n];
            using var scratch = new Scratch(n);
            Span<long> off = stackalloc long[1];
            // i ranks before j: the better key, or the lower index on a tie.
            Comparison<int> before = largest
                ? (i, j) => keys[i] > keys[j] ? -1 : keys[i] < keys[j] ? 1 : i.CompareTo(j)
                : (i, j) => keys[i] < keys[j] ? -1 : keys[i] > keys[j] ? 1 : i.CompareTo(j);
            fixed (T* kp = keys)
            {
                for (long r = r0; r < r1; r++)
                {
                    idx.Offsets(r, off);
                    byte* row = xb + off[0] * es;
                    load(row, t, inner, n, kp, scratch.P);
                    if (partial) SelectBest(order, k, n, before);
                    else
                    {
                        for (int i = 0; i < n; i++) order[i] = i;
                        Array.Sort(order, before);
                    }
                    byte* vd = vb + r * k * es;
                    int* id = ib + r * k;
                    for (int j = 0; j < k; j++)
                    {
                        id[j] = order[j];
                        CopyElement(row + order[j] * inner * es, vd + (long)j * es, es);
                    }
                }
            }
        });
    }

    // The best k of n indices into best[0..k), sorted: an insertion into a sorted buffer, skipped with one
    // comparison for every element that does not beat the current k-th.
    private static void SelectBest(int[] best, int k, int n, Comparison<int> before)
    {
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            if (count == k && before(i, best[k - 1]) >= 0) continue;
            int at = count < k ? count++ : k - 1;
            while (at > 0 && before(i, best[at - 1]) < 0) { best[at] = best[at - 1]; at--; }
            best[at] = i;
        }
    }
}
