using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Safetensors;
using Tessera.Models.Nn;

namespace Tessera.Models.Tests.Nn;

/// <summary>2-D rotary embedding for patch grids against a naive rotation in double: patch (r, c) turns its first
/// quarter of channel pairs by r * theta^(-4i/R) and the next quarter by c * theta^(-4i/R) (EVA-02 / Pixtral layout),
/// rotate-half pairing within the rotated R channels, the rest passed through.</summary>
public sealed class RotaryGridTests
{
    [Fact]
    public void Grid_and_explicit_patch_positions_rotate_by_row_and_column()
    {
        const int rows = 3, cols = 5, heads = 2, headDim = 11, rot = 8;
        string dir = Directory.CreateTempSubdirectory("tessera-nn-rope-").FullName;
        try
        {
            string path = Path.Combine(dir, "w.safetensors");
            SafetensorsWriter.Write(path, [WeightTensor.FromValues("unused", [1], new float[] { 0 })]);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));
            using var wb = WeightBuilder.Open(cpu, path);
            var rng = new Random(9);
            int n = rows * cols;
            var x = Enumerable.Range(0, heads * n * headDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            using var xt = Tensor.FromArray(cpu, x, 1, heads, n, headDim);
            using var y = RotaryEmbedding.Grid(wb, rows, cols, rot).Apply(xt);
            NnAssert.Close("grid rope", y.ToFloatArray(), Naive(x, heads, headDim, rot, Enumerable.Range(0, n).Select(p => (p / cols, p % cols)).ToArray()));

            // Explicit (row, col) ids: a cropped, reordered set of patches.
            (int R, int C)[] picked = [(2, 4), (0, 0), (1, 3)];
            var xs = x.Take(heads * picked.Length * headDim).ToArray();
            using var xp = Tensor.FromArray(cpu, xs, 1, heads, picked.Length, headDim);
            var rope = RotaryEmbedding.Create2D(wb, picked.Select(p => p.R).ToArray(), picked.Select(p => p.C).ToArray(), rot);
            using var yp = rope.Apply(xp);
            NnAssert.Close("explicit patch rope", yp.ToFloatArray(), Naive(xs, heads, headDim, rot, picked));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static float[] Naive(float[] x, int heads, int headDim, int rot, (int R, int C)[] pos)
    {
        var y = (float[])x.Clone();
        int half = rot / 2, quarter = rot / 4;
        for (int h = 0; h < heads; h++)
            for (int p = 0; p < pos.Length; p++)
            {
                int at = (h * pos.Length + p) * headDim;
                for (int i = 0; i < half; i++)
                {
                    double f = Math.Pow(10000, -2.0 * (i % quarter) / half), a = (i < quarter ? pos[p].R : pos[p].C) * f;
                    double x1 = x[at + i], x2 = x[at + half + i];
                    y[at + i] = (float)(x1 * Math.Cos(a) - x2 * Math.Sin(a));
                    y[at + half + i] = (float)(x2 * Math.Cos(a) + x1 * Math.Sin(a));
                }
            }
        return y;
    }
}
