using ILGPU;

namespace Tessera.Kernels;

/// <summary>Reductions across one block: a butterfly of warp shuffles (every lane ends with the result), the warps'
/// partials through a 32-float shared scratch, and a second butterfly. Every thread of the block must call them
/// (they hold barriers). Written out by hand: ILGPU does not unroll the 5-step loop.</summary>
public static class BlockReduce
{
    /// <summary>The shared scratch one reduction needs (one slot a warp; 32 warps at most).</summary>
    public const int ScratchFloats = 32;

    public static float WarpSum(float v)
    {
        v += Warp.ShuffleXor(v, 16);
        v += Warp.ShuffleXor(v, 8);
        v += Warp.ShuffleXor(v, 4);
        v += Warp.ShuffleXor(v, 2);
        v += Warp.ShuffleXor(v, 1);
        return v;
    }

    /// <summary>Max that keeps NaN (a row holding NaN reduces to NaN, as the CPU backend does).</summary>
    public static float Max(float a, float b) => a > b || ElementMath.IsNaN(a) ? a : b;

    public static float WarpMax(float v)
    {
        v = Max(v, Warp.ShuffleXor(v, 16));
        v = Max(v, Warp.ShuffleXor(v, 8));
        v = Max(v, Warp.ShuffleXor(v, 4));
        v = Max(v, Warp.ShuffleXor(v, 2));
        v = Max(v, Warp.ShuffleXor(v, 1));
        return v;
    }

    public static float Sum(float v, ArrayView<float> scratch)
    {
        v = WarpSum(v);
        if (Warp.LaneIdx == 0) scratch[Warp.WarpIdx] = v;
        Group.Barrier();
        int warps = (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
        v = Warp.LaneIdx < warps ? scratch[Warp.LaneIdx] : 0f;
        v = WarpSum(v);
        Group.Barrier(); // the scratch may be reused right after
        return v;
    }

    public static float MaxOf(float v, ArrayView<float> scratch)
    {
        v = WarpMax(v);
        if (Warp.LaneIdx == 0) scratch[Warp.WarpIdx] = v;
        Group.Barrier();
        int warps = (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
        v = Warp.LaneIdx < warps ? scratch[Warp.LaneIdx] : float.NegativeInfinity;
        v = WarpMax(v);
        Group.Barrier();
        return v;
    }
}

/// <summary>A vector or matrix operand given by its dtype (ElementCodes; -1: absent), first element and strides
/// (elements). Host mirror: Tessera.Cuda.VecArgHost.</summary>
public struct VecArg
{
    public long Offset, Stride, RowStride;
    public int DType, Pad;

    public readonly float Load(ArrayView<byte> buf, long i) => ElementIO.LoadF(buf, DType, Offset + i * Stride);

    public readonly float Load(ArrayView<byte> buf, long row, long i) => ElementIO.LoadF(buf, DType, Offset + row * RowStride + i * Stride);
}
