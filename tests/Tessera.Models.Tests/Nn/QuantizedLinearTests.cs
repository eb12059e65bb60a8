using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Models.Nn;
using Tessera.Quant;

namespace Tessera.Models.Tests.Nn;

/// <summary>Linear over GGUF block-quantized weights: the builder keeps Q8_0 / Q4_0 / Q4_K as stored and the layer goes
/// through the quantized matmul, compared with a naive double-precision product over the dequantized weights. The
/// bound is that of the 8-bit activation quantization the quantized matmul applies (nmse &lt; 1e-4, as in
/// QuantizedMatMulTests). Also: the SwiGLU gate's Multiplier epilogue on that path, and a quantized embedding table.</summary>
public sealed class QuantizedLinearTests
{
    [Theory]
    [InlineData(DType.Q8_0, 96), InlineData(DType.Q4_0, 96), InlineData(DType.Q4_K, 256)]
    public void Quantized_weights_stay_quantized_and_match_the_dequantized_product(DType type, int inF)
    {
        const int outF = 17, rows = 7;
        var rng = new Random(3);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] w = Rand(outF * inF), w2 = Rand(outF * inF), bias = Rand(outF), x = Rand(rows * inF);
        var (q, wq) = Quantize(type, w);
        var (q2, wq2) = Quantize(type, w2);
        string dir = Directory.CreateTempSubdirectory("tessera-nn-q-").FullName;
        try
        {
            string path = Path.Combine(dir, "q.gguf");
            new GgufWriter()
                .AddTensor(WeightTensor.FromBytes("lin.weight", type, [outF, inF], q))
                .AddTensor(WeightTensor.FromValues("lin.bias", [outF], bias))
                .AddTensor(WeightTensor.FromBytes("up.weight", type, [outF, inF], q2))
                .Write(path);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var wb = WeightBuilder.Open(cpu, path);
            var lin = Linear.Load(wb.Pp("lin"), inF, outF);

            // The same blocks as an embedding table: dequantized at load, rows equal to the dequantized weights.
            var table = Embedding.Load(wb.Pp("lin"), outF, inF);
            Assert.Equal(DType.F32, table.Weight.DType);
            using var rowsOut = table.Forward([16, 0, 5]);
            Assert.Equal(new[] { 16, 0, 5 }.SelectMany(i => wq.Skip(i * inF).Take(inF)).ToArray(), rowsOut.ToFloatArray());
            Assert.Equal(type, lin.Weight.DType);
            using var xt = Tensor.FromArray(cpu, x, 1, rows, inF);
            using var y = lin.Forward(xt);
            var want = Product(x, wq, bias, rows, inF, outF);
            Assert.True(Nmse(y.ToFloatArray(), want) < 1e-4, $"{type}: nmse {Nmse(y.ToFloatArray(), want):E2}");

            // silu(x W^T + b) * (x U^T) through the Multiplier epilogue on the quantized path.
            var up = Linear.Load(wb.Pp("up"), inF, outF, bias: false);
            using var u = up.Forward(xt);
            using var g = lin.Forward(xt, new MatMulEpilogue(Activation: Activation.Silu, Multiplier: u));
            var uw = Product(x, wq2, new float[outF], rows, inF, outF);
            var gated = want.Select((v, i) => v / (1 + Math.Exp(-v)) * uw[i]).ToArray();
            Assert.True(Nmse(g.ToFloatArray(), gated) < 1e-4, $"{type} gated: nmse {Nmse(g.ToFloatArray(), gated):E2}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static (byte[] Bytes, float[] Dequantized) Quantize(DType type, float[] w)
    {
        var bytes = new byte[type.ByteCount(w.Length)];
        BlockQuant.Quantize(type, w, bytes);
        var back = new float[w.Length];
        BlockQuant.Dequantize(type, bytes, back);
        return (bytes, back);
    }

    private static double[] Product(float[] x, float[] w, float[] bias, int rows, int inF, int outF)
    {
        var y = new double[rows * outF];
        for (int m = 0; m < rows; m++)
            for (int n = 0; n < outF; n++)
            {
                double s = bias[n];
                for (int k = 0; k < inF; k++) s += (double)x[m * inF + k] * w[n * inF + k];
                y[m * outF + n] = s;
            }
        return y;
    }

    private static double Nmse(float[] got, double[] want)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < got.Length; i++) { err += (got[i] - want[i]) * (got[i] - want[i]); norm += want[i] * want[i]; }
        return err / norm;
    }
}
