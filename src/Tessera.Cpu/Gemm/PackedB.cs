using System.Runtime.InteropServices;

namespace Tessera.Cpu.Gemm;

/// <summary>A constant B (a weight) packed once into the micro-kernel's panel layout, as MLAS does for ONNX Runtime's
/// MatMul with a constant initializer: every later product skips the packing (and the f16/bf16 conversion).
/// Layout: K blocks of <see cref="Sgemm.KC"/> rows; within a block, ceil(N/NR) panels of kc x NR floats.</summary>
internal sealed unsafe class PackedB : IDisposable
{
    private float* _data;
    private readonly long _nPadded;

    /// <summary>Packs B (k x n, any strides, f32/f16/bf16).</summary>
    public PackedB(int k, int n, in GemmOperand b)
    {
        if (k <= 0 || n <= 0) throw new TesseraException($"packed gemm operand needs k, n > 0, got {k} x {n}");
        K = k; N = n; NR = MicroKernel.NR;
        _nPadded = (long)(n + NR - 1) / NR * NR;
        _data = (float*)NativeMemory.AlignedAlloc((nuint)(_nPadded * k * sizeof(float)), 64);
        float* scratch = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(n, k) + 64) * sizeof(float), 64);
        try
        {
            for (int pc = 0; pc < k; pc += Sgemm.KC)
                GemmPack.PackB(b, pc, Math.Min(Sgemm.KC, k - pc), 0, n, NR, _data + pc * _nPadded, scratch);
        }
        finally { NativeMemory.AlignedFree(scratch); }
    }

    /// <summary>Rows of B.</summary>
    public int K { get; }

    /// <summary>Columns of B.</summary>
    public int N { get; }

    /// <summary>Panel width it was packed for.</summary>
    public int NR { get; }

    /// <summary>The packed block of K rows starting at pc (a multiple of KC), from column jc (a multiple of NR) on.</summary>
    public float* Block(int pc, int jc)
    {
        ObjectDisposedException.ThrowIf(_data == null, this);
        int kc = Math.Min(Sgemm.KC, K - pc);
        return _data + pc * _nPadded + (long)jc * kc;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_data != null) { NativeMemory.AlignedFree(_data); _data = null; }
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the native panels if Dispose was never called.</summary>
    ~PackedB() => Dispose();
}
