namespace Tessera;

/// <summary>Which way an LSTM runs over the sequence (ONNX's <c>direction</c> attribute).</summary>
public enum LstmDirection
{
    /// <summary>From the first step to the last; one direction.</summary>
    Forward,
    /// <summary>From the last valid step of each sequence to the first; one direction.</summary>
    Reverse,
    /// <summary>Both: direction 0 forward, direction 1 reverse (two directions).</summary>
    Bidirectional,
}

/// <summary>The attributes of an ONNX LSTM that Tessera supports. Activations are ONNX's defaults (sigmoid for the
/// gates, tanh for the cell candidate and the output); the hidden size is the last axis of R.</summary>
public sealed record LstmOptions
{
    /// <summary>The default: forward, sequence-first, no clip, separate forget gate.</summary>
    public static LstmOptions Default { get; } = new();

    /// <summary>Forward, reverse or both.</summary>
    public LstmDirection Direction { get; init; } = LstmDirection.Forward;

    /// <summary>ONNX <c>layout = 1</c>: X is [batch, seq, input], Y [batch, seq, dirs, H], the states [batch, dirs, H];
    /// otherwise (layout 0) X is [seq, batch, input], Y [seq, dirs, batch, H], the states [dirs, batch, H].</summary>
    public bool BatchFirst { get; init; }

    /// <summary>Cell clip: every gate's pre-activation (peephole and biases included) is clamped to
    /// [-Clip, Clip] before its activation, as ONNX Runtime applies it; null: no clipping.</summary>
    public float? Clip { get; init; }

    /// <summary>ONNX <c>input_forget = 1</c>: the forget gate is 1 - input gate (coupled gates).</summary>
    public bool InputForget { get; init; }

    /// <summary>Directions this option set runs: 2 for bidirectional, else 1.</summary>
    public int Directions => Direction == LstmDirection.Bidirectional ? 2 : 1;

    /// <summary>Whether direction <paramref name="d"/> walks the sequence backwards.</summary>
    public bool IsReverse(int d) => Direction == LstmDirection.Reverse || (Direction == LstmDirection.Bidirectional && d == 1);

    /// <summary>For backends: null when the operands of <see cref="IBackend.Lstm"/> (sequence-first, as the front end
    /// hands them over) fit an LSTM with these options, else a message naming every shape.</summary>
    public string? Mismatch(Tensor x, Tensor w, Tensor r, Tensor? b, Tensor? seqLens, Tensor? initialH, Tensor? initialC,
        Tensor? p, Tensor y, Tensor yH, Tensor yC)
    {
        int dirs = Directions, h = r.Shape[-1], g4 = 4 * h;
        bool fits = x.Rank == 3 && w.Shape.Equals(new Shape(dirs, g4, x.Shape[2])) && r.Shape.Equals(new Shape(dirs, g4, h))
            && (b is null || b.Shape.Equals(new Shape(dirs, 2 * g4))) && (p is null || p.Shape.Equals(new Shape(dirs, 3 * h)))
            && y.Shape.Equals(new Shape(x.Shape[0], dirs, x.Shape[1], h)) && yH.Shape.Equals(new Shape(dirs, x.Shape[1], h))
            && yC.Shape.Equals(yH.Shape) && (initialH is null || initialH.Shape.Equals(yH.Shape))
            && (initialC is null || initialC.Shape.Equals(yH.Shape))
            && (seqLens is null || (seqLens.DType == DType.I32 && seqLens.Shape.Equals(new Shape(x.Shape[1]))));
        return fits ? null
            : $"lstm: x {x.Shape}, w {w.Shape}, r {r.Shape}, b {b?.Shape}, p {p?.Shape}, initial states {initialH?.Shape}/{initialC?.Shape}, " +
              $"seqLens {seqLens?.Shape} and outputs {y.Shape}, {yH.Shape}, {yC.Shape} do not fit a {Direction} LSTM";
    }
}

/// <summary>The three outputs of an LSTM: every step's hidden state and the final hidden and cell states.</summary>
/// <param name="Y">Hidden states of every step: [seq, dirs, batch, H] (batch-first: [batch, seq, dirs, H]); zeros past a
/// sequence's length.</param>
/// <param name="Yh">Final hidden state: [dirs, batch, H] (batch-first: [batch, dirs, H]).</param>
/// <param name="Yc">Final cell state, shaped as <paramref name="Yh"/>.</param>
public sealed record LstmResult(Tensor Y, Tensor Yh, Tensor Yc) : IDisposable
{
    /// <summary>Disposes the three tensors.</summary>
    public void Dispose()
    {
        Y.Dispose();
        Yh.Dispose();
        Yc.Dispose();
    }
}
