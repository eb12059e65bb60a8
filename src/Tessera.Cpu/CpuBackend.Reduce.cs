using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Tessera.Cpu.Kernels;

namespace Tessera.Cpu;

// Reductions over one axis. Sums accumulate in double. Max and Min propagate NaN (a row holding a NaN
// reduces to NaN); ArgMax returns the index of the first maximum, and treats NaN as larger than every
// number, so it returns the first NaN's index when there is one (PyTorch's and NumPy's rule).
// Two layouts: the reduced axis is the last one (each row is reduced on its own, any strides), or it is
// not (x is made contiguous f32 and whole rows of the inner axes are accumulated vector-wise).
public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Reduce(ReduceOp op, Tensor x, int axis, Tensor dst)
    {
        Check(axis >= 0 && axis < x.Rank && dst.Shape.Equals(x.Shape.With(axis, 1)) && dst.IsContiguous,
            $"reduce {op}: dst {dst.Shape} must be x {x.Shape} with axis {axis} set to 1");
        Check(x.DType.IsFloat() && (op == ReduceOp.ArgMax ? dst.DType == DType.I32 : dst.DType.IsFloat()),
            $"reduce {op}: x {x.DType.Name()} {x.Shape} into {dst.DType.Name()} is not supported (float input; i32 output for argmax)");
        if (dst.ElementCount == 0) return;
        int len = x.Shape[axis];
        Check(len > 0 || op is ReduceOp.Sum or ReduceOp.Mean, $"reduce {op} over the empty axis {axis} of {x.Shape}");
        long inner = 1;
        for (int i = axis + 1; i < x.Rank; i++) inner *= x.Shape[i];
        if (inner == 1) ReduceRows(op, x, axis, dst);
        else ReduceColumns(op, x, axis, inner, dst);
    }

    // The reduced axis is the last non-trivial one: dst[r] = reduce(row r). Trailing size-1 axes are ignored
    // (the walk runs over x's axes up to the reduced one, which becomes the row).
    private void ReduceRows(ReduceOp op, Tensor x, int axis, Tensor dst)
    {
        int n = x.Shape[axis];
        long xIn = x.Strides[axis];
        var idx = new StridedIndex(new Shape(x.Shape.Dims[..(axis + 1)]), x);
        byte* xb = Ptr(x), db = Ptr(dst);
        DType xt = x.DType, dt = dst.DType;
        int xes = ElementSize(xt), des = ElementSize(dt);
        CpuParallel.For(idx.Rows, Threads, Math.Max(1, 32768 / Math.Max(n, 1)), (r0, r1) =>
        {
            using var buf = new Scratch(n);
            Span<long> off = stackalloc long[1];
            for (long r = r0; r < r1; r++)
            {
                idx.Offsets(r, off);
                float* p = RowIo.Load(xb + off[0] * xes, xt, xIn, n, buf.P);
                var row = new ReadOnlySpan<float>(p, n);
                switch (op)
                {
                    case ReduceOp.Sum: Elements.Write(db + r * des, dt, RowStats.Sum(p, n)); break;
                    case ReduceOp.Mean: Elements.Write(db + r * des, dt, RowStats.Sum(p, n) / n); break;
                    case ReduceOp.Max: Elements.Write(db + r * des, dt, TensorPrimitives.Max(row)); break;
                    case ReduceOp.Min: Elements.Write(db + r * des, dt, TensorPrimitives.Min(row)); break;
                    case ReduceOp.ArgMax: ((int*)db)[r] = TensorPrimitives.IndexOfMax(row); break;
                }
            }
        });
    }

    // x viewed as [outer, len, inner] (contiguous f32): dst[o, j] = reduce over l of x[o, l, j], a chunk of
    // j at a time so the accumulators stay in L1 and each x row is read as a contiguous vector run.
    private void ReduceColumns(ReduceOp op, Tensor x, int axis, long inner, Tensor dst)
    {
        using var xc = AsF32(x);
        int len = x.Shape[axis];
        long outer = 1;
        for (int i = 0; i < axis; i++) outer *= x.Shape[i];
        const int chunk = 1024;
        long perOuter = (inner + chunk - 1) / chunk;
        float* xb = Ptr<float>(xc);
        byte* db = Ptr(dst);
        DType dt = dst.DType;
        CpuParallel.For(outer * perOuter, Threads, Math.Max(1, 32768 / ((long)len * Math.Min(inner, chunk))), (p0, p1) =>
        {
            double* accD = stackalloc double[chunk];
            float* accF = stackalloc float[chunk];
            int* arg = stackalloc int[chunk];
            for (long p = p0; p < p1; p++)
            {
                long o = p / perOuter, j0 = p % perOuter * chunk;
                int m = (int)Math.Min(chunk, inner - j0);
                float* col = xb + o * len * inner + j0;
                switch (op)
                {
                    case ReduceOp.Sum:
                    case ReduceOp.Mean:
                        new Span<double>(accD, m).Clear();
                        for (int l = 0; l < len; l++) AddWidened(col + l * inner, accD, m);
                        double scale = op == ReduceOp.Mean ? 1.0 / len : 1.0;
                        for (int j = 0; j < m; j++) accF[j] = (float)(accD[j] * scale);
                        break;
                    case ReduceOp.Max:
                    case ReduceOp.Min:
                        var acc = new Span<float>(accF, m);
                        new ReadOnlySpan<float>(col, m).CopyTo(acc);
                        for (int l = 1; l < len; l++)
                        {
                            var row = new ReadOnlySpan<float>(col + l * inner, m);
                            if (op == ReduceOp.Max) TensorPrimitives.Max(acc, row, acc);
                            else TensorPrimitives.Min(acc, row, acc);
                        }
                        break;
                    case ReduceOp.ArgMax:
                        new ReadOnlySpan<float>(col, m).CopyTo(new Span<float>(accF, m));
                        new Span<int>(arg, m).Clear();
                        for (int l = 1; l < len; l++)
                        {
                            float* row = col + l * inner;
                            for (int j = 0; j < m; j++)
                            {
                                float v = row[j], best = accF[j];
                                // strictly greater keeps the first maximum; a NaN beats any number, the first NaN wins
                                if (v > best || (float.IsNaN(v) && !float.IsNaN(best))) { accF[j] = v; arg[j] = l; }
                            }
                        }
                        Buffer.MemoryCopy(arg, (int*)db + o * inner + j0, m * 4L, m * 4L);
                        continue;
                }
                RowIo.Store(accF, db + (o * inner + j0) * ElementSize(dt), dt, 1, m);
            }
        });
    }

    // acc[j] += (double)x[j] for j < m.
    private static void AddWidened(float* x, double* acc, int m)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j <= m - 16; j += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(x + j));
                (Vector512.Load(acc + j) + lo).Store(acc + j);
                (Vector512.Load(acc + j + 8) + hi).Store(acc + j + 8);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; j <= m - 8; j += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(x + j));
                (Vector256.Load(acc + j) + lo).Store(acc + j);
                (Vector256.Load(acc + j + 4) + hi).Store(acc + j + 4);
            }
        for (; j < m; j++) acc[j] += x[j];
    }
}
