namespace Tessera.Cpu.Gemm;

/// <summary>C (m x n, row stride ldc, f32) = epilogue(A (m x k) @ B (k x n)), A and B strided f32/f16/bf16.
/// PLACEHOLDER: a plain loop, to be replaced by the packed-panel SIMD kernel.</summary>
internal static unsafe class Sgemm
{
    public static void Multiply(int m, int n, int k, in GemmOperand a, in GemmOperand b, float* c, long ldc, in GemmEpilogue ep, int threads)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float acc = 0;
                for (int p = 0; p < k; p++) acc += Load(a, i, p) * Load(b, p, j);
                c[i * ldc + j] = acc;
            }
        throw new NotImplementedException("epilogue");
    }

    private static float Load(in GemmOperand o, long r, long col)
    {
        long at = r * o.RowStride + col * o.ColStride;
        return o.Type switch
        {
            DType.F32 => ((float*)o.Ptr)[at],
            DType.F16 => (float)((Half*)o.Ptr)[at],
            _ => BFloat16.ToSingle(((ushort*)o.Ptr)[at]),
        };
    }
}
