using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tessera.Cuda;

/// <summary>What a kernel parameter is, as the manifest names it.</summary>
internal enum KernelArgKind : byte { View, Scalar, Struct }

/// <summary>One kernel argument by value: a view (device pointer and element count, the 16 bytes of ILGPU's
/// ArrayView), a scalar or a small struct (up to 128 bytes). Checked against the manifest's layout at launch.</summary>
internal struct KernelArg
{
    [InlineArray(128)]
    internal struct Payload { private byte _b; }

    public KernelArgKind Kind;
    public int Size;
    public Payload Bytes;

    /// <summary>An ArrayView&lt;T&gt;: the address of element 0 and the number of elements.</summary>
    public static KernelArg View(ulong devicePointer, long length)
    {
        var a = new KernelArg { Kind = KernelArgKind.View, Size = 16 };
        MemoryMarshal.Write(a.Bytes[..8], devicePointer);
        MemoryMarshal.Write(a.Bytes[8..16], length);
        return a;
    }

    public static KernelArg Scalar<T>(T value) where T : unmanaged => Make(KernelArgKind.Scalar, value);

    public static KernelArg Struct<T>(in T value) where T : unmanaged => Make(KernelArgKind.Struct, value);

    private static KernelArg Make<T>(KernelArgKind kind, T value) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        if (size > 128) throw new TesseraException($"kernel argument {typeof(T).Name} is {size} bytes; at most 128 are supported");
        var a = new KernelArg { Kind = kind, Size = size };
        MemoryMarshal.Write(a.Bytes[..size], in value);
        return a;
    }
}

/// <summary>The host mirror of Tessera.Kernels.StridedLayout (same fields, same order; a test compares it with
/// the manifest's field list).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct StridedLayoutArg
{
    public long Offset;
    public int DType;
    public int Rank;
    public int D0, D1, D2, D3, D4, D5;
    public long S0, S1, S2, S3, S4, S5;

    public const int MaxRank = 6;

    /// <summary>Layouts for several operands of one shape, with every dimension that is contiguous in all of them
    /// merged into the next (and size-1 dimensions dropped), so most views need one or two dimensions; more than
    /// six remaining dimensions is an error naming the shape.</summary>
    public static StridedLayoutArg[] For(string op, Shape shape, params ReadOnlySpan<Tensor> operands)
    {
        int k = operands.Length;
        var dims = new List<int>();
        var strides = new List<long[]>();
        for (int i = 0; i < shape.Rank; i++)
        {
            int d = shape.Dims[i];
            if (d == 1) continue;
            var s = new long[k];
            for (int j = 0; j < k; j++) s[j] = operands[j].Strides[i];
            if (dims.Count > 0 && (long)dims[^1] * d <= int.MaxValue)
            {
                bool merge = true;
                for (int j = 0; j < k && merge; j++) merge = strides[^1][j] == s[j] * d;
                if (merge) { dims[^1] *= d; strides[^1] = s; continue; }
            }
            dims.Add(d);
            strides.Add(s);
        }
        if (dims.Count > MaxRank)
            throw new TesseraException($"cuda {op}: shape {shape} with these strides needs {dims.Count} dimensions; the strided kernels take at most {MaxRank} (make an operand contiguous first)");
        var result = new StridedLayoutArg[k];
        Span<int> d6 = stackalloc int[MaxRank];
        Span<long> s6 = stackalloc long[MaxRank];
        for (int j = 0; j < k; j++)
        {
            d6.Fill(1);
            s6.Clear();
            int pad = MaxRank - dims.Count;
            for (int i = 0; i < dims.Count; i++) { d6[pad + i] = dims[i]; s6[pad + i] = strides[i][j]; }
            result[j] = new StridedLayoutArg
            {
                Offset = operands[j].Offset, DType = (int)operands[j].DType, Rank = dims.Count,
                D0 = d6[0], D1 = d6[1], D2 = d6[2], D3 = d6[3], D4 = d6[4], D5 = d6[5],
                S0 = s6[0], S1 = s6[1], S2 = s6[2], S3 = s6[3], S4 = s6[4], S5 = s6[5],
            };
        }
        return result;
    }
}
