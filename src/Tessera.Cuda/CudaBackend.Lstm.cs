using System.Runtime.InteropServices;

namespace Tessera.Cuda;

// ONNX LSTM on the GPU: the input projection of every step and direction is one GEMM (GemmKernels.Tiled through
// MatMul, biases Wb + Rb in its epilogue); then per step one batched GEMM h [D, B, H] @ R^T [D, H, 4H] for both
// directions and one LstmKernels.Step launch that applies the gates, updates the states in place and writes y.
// Operands are made contiguous f32 first (f16/bf16 and strided views are converted once, not per step).
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc/>
    public void Lstm(Tensor x, Tensor w, Tensor r, Tensor? b, Tensor? seqLens, Tensor? initialH, Tensor? initialC, Tensor? p,
        LstmOptions options, Tensor y, Tensor yH, Tensor yC)
    {
        if (options.Mismatch(x, w, r, b, seqLens, initialH, initialC, p, y, yH, yC) is { } mismatch) throw new TesseraException(mismatch);
        int s = x.Shape[0], batch = x.Shape[1], input = x.Shape[2], dirs = options.Directions, h = r.Shape[-1], g4 = 4 * h;
        using var scope = TensorScope.Begin();
        var xc = F32Dense(x);
        var wc = F32Dense(w);
        var rc = F32Dense(r);
        var pc = p is null ? null : F32Dense(p);
        Tensor? bias = null;
        if (b is not null)
        {
            var bc = F32Dense(b);
            bias = (bc.Slice(1, 0, g4) + bc.Slice(1, g4, 2 * g4)).Reshape(dirs * g4);
        }
        var proj = Tensor.Zeros(this, DType.F32, new Shape(s * batch, dirs * g4));
        MatMul(xc.Reshape(s * batch, input), wc.Reshape(dirs * g4, input).T, proj, new MatMulEpilogue(bias));

        var yF = y.DType == DType.F32 && y.IsContiguous ? y : Tensor.Zeros(this, DType.F32, y.Shape);
        var hF = yH.DType == DType.F32 && yH.IsContiguous ? yH : Tensor.Zeros(this, DType.F32, yH.Shape);
        var cF = yC.DType == DType.F32 && yC.IsContiguous ? yC : Tensor.Zeros(this, DType.F32, yC.Shape);
        Fill(yF, 0); // steps past a row's length stay 0
        if (initialH is null) Fill(hF, 0); else Copy(initialH, hF);
        if (initialC is null) Fill(cF, 0); else Copy(initialC, cF);
        var rT = rc.Transpose(1, 2); // [D, H, 4H]
        var gates = Tensor.Zeros(this, DType.F32, new Shape(dirs, batch, g4));
        int steps = seqLens is null ? s : seqLens.ToArray<int>().Max(); // a few ints, already checked by the front end
        var args = new LstmStepArgsArg
        {
            Steps = s, Batch = batch, Hidden = h, Dirs = dirs, HasPeepholes = p is null ? 0 : 1, HasLens = seqLens is null ? 0 : 1,
            InputForget = options.InputForget ? 1 : 0, Clip = options.Clip ?? 0f,
            ReverseMask = (options.IsReverse(0) ? 1 : 0) | (dirs > 1 && options.IsReverse(1) ? 2 : 0),
        };
        long units = (long)dirs * batch * h;
        var none = KernelArg.View(0, 0);
        for (int k = 0; k < steps; k++)
        {
            MatMul(hF, rT, gates, MatMulEpilogue.None);
            args.Step = k;
            RunBlocks("LstmKernels.Step", (units + 255) / 256, ViewAt(gates, gates.ElementCount), ViewAt(proj, proj.ElementCount),
                pc is null ? none : ViewAt(pc, pc.ElementCount), seqLens is null ? none : IntView(seqLens),
                ViewAt(hF, hF.ElementCount), ViewAt(cF, cF.ElementCount), ViewAt(yF, yF.ElementCount), KernelArg.Struct(args));
        }
        if (!ReferenceEquals(yF, y)) Copy(yF, y);
        if (!ReferenceEquals(hF, yH)) Copy(hF, yH);
        if (!ReferenceEquals(cF, yC)) Copy(cF, yC);
    }

    /// <summary>A contiguous f32 form of t, made in the current scope (t itself when it already is one).</summary>
    private static Tensor F32Dense(Tensor t)
    {
        if (t.DType == DType.F32 && t.IsContiguous) return t;
        return t.DType == DType.F32 ? t.Contiguous() : t.To(DType.F32).Contiguous();
    }
}

/// <summary>The host mirror of Tessera.Kernels.LstmStepArgs (same fields, same order; a test compares them).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct LstmStepArgsArg
{
    public int Steps, Batch, Hidden, Dirs;
    public int Step;
    public int ReverseMask;
    public int HasPeepholes, HasLens, InputForget;
    public float Clip;
}
