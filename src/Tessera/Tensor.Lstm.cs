namespace Tessera;

// The LSTM front end: ONNX LSTM semantics (inputs, attributes and outputs as the ONNX operator defines them), shape
// checks whose messages name the operand, then the backend op on sequence-first operands. A batch-first layout is
// a permuted view on the way in and one transposing copy of the outputs on the way out.
public sealed partial class Tensor
{
    /// <summary>An ONNX LSTM over this x: [seq, batch, input], or [batch, seq, input] with
    /// <see cref="LstmOptions.BatchFirst"/>. w [dirs, 4H, input] and r [dirs, 4H, H] hold the gates in ONNX's order
    /// i, o, f, c (PyTorch's nn.LSTM order is i, f, g, o: reorder when loading its weights); b [dirs, 8H] (input then
    /// recurrent biases), sequenceLens int32 or int64 [batch] (each 0..seq), initialH and initialC [dirs, batch, H]
    /// ([batch, dirs, H] batch-first) and peepholes [dirs, 3H] (i, o, f) are optional. dirs is 2 for a bidirectional
    /// LSTM, else 1. Returns Y, Y_h and Y_c in x's dtype (see <see cref="LstmResult"/>).</summary>
    public LstmResult Lstm(Tensor w, Tensor r, Tensor? b = null, LstmOptions? options = null, Tensor? initialH = null,
        Tensor? initialC = null, Tensor? peepholes = null, Tensor? sequenceLens = null)
    {
        options ??= LstmOptions.Default;
        const string op = "lstm";
        RequireFloat(op);
        string xName = options.BatchFirst ? "X [batch, seq, input]" : "X [seq, batch, input]";
        if (Rank != 3) throw new TesseraException($"{op}: {xName} must have rank 3, got {Shape}");
        int s = options.BatchFirst ? Dim(1) : Dim(0), batch = options.BatchFirst ? Dim(0) : Dim(1), input = Dim(2);
        int dirs = options.Directions;
        SameBackend(op, w); SameBackend(op, r);
        if (!w.DType.IsFloat() || !r.DType.IsFloat())
            throw new TesseraException($"{op}: W and R must be floating point, got {w.DType.Name()} {w.Shape} and {r.DType.Name()} {r.Shape}");
        if (r.Rank != 3 || r.Dim(0) != dirs || r.Dim(1) != 4 * r.Dim(2) || r.Dim(2) == 0)
            throw new TesseraException($"{op}: R must be [dirs={dirs}, 4H, H] for a {options.Direction.ToString().ToLowerInvariant()} LSTM, got {r.Shape}");
        int h = r.Dim(2);
        if (w.Rank != 3 || w.Dim(0) != dirs || w.Dim(1) != 4 * h || w.Dim(2) != input)
            throw new TesseraException($"{op}: W must be [dirs={dirs}, 4H={4 * h}, input={input}] for {xName} {Shape} and R {r.Shape}, got {w.Shape}");
        CheckLstmOperand(op, "B", b, [dirs, 8 * h]);
        CheckLstmOperand(op, "P (peepholes)", peepholes, [dirs, 3 * h]);
        int[] stateDims = options.BatchFirst ? [batch, dirs, h] : [dirs, batch, h];
        string stateName = options.BatchFirst ? "[batch, dirs, H]" : "[dirs, batch, H]";
        CheckLstmOperand(op, $"initial_h {stateName}", initialH, stateDims);
        CheckLstmOperand(op, $"initial_c {stateName}", initialC, stateDims);
        if (options.Clip is { } clip && !(clip > 0 && float.IsFinite(clip)))
            throw new TesseraException($"{op}: clip must be a positive finite threshold, got {clip}");
        using var lens = LstmLengths(op, sequenceLens, batch, s);
        using var xs = options.BatchFirst ? Permute(1, 0, 2) : Share();
        using var h0 = options.BatchFirst ? initialH?.Permute(1, 0, 2) : initialH?.Share();
        using var c0 = options.BatchFirst ? initialC?.Permute(1, 0, 2) : initialC?.Share();
        var y = NewLike(new Shape(s, dirs, batch, h));
        var yh = NewLike(new Shape(dirs, batch, h));
        var yc = NewLike(new Shape(dirs, batch, h));
        try
        {
            if (s > 0 && batch > 0) Backend.Lstm(xs, w, r, b, lens, h0, c0, peepholes, options, y, yh, yc);
            else
            {
                // No steps: the final states are the initial ones.
                if (h0 is not null) Backend.Copy(h0, yh);
                if (c0 is not null) Backend.Copy(c0, yc);
            }
            if (!options.BatchFirst) return new LstmResult(y, yh, yc);
            using (y) using (yh) using (yc)
            {
                using var yp = y.Permute(2, 0, 1, 3);
                using var yhp = yh.Permute(1, 0, 2);
                using var ycp = yc.Permute(1, 0, 2);
                return new LstmResult(yp.Contiguous(), yhp.Contiguous(), ycp.Contiguous());
            }
        }
        catch
        {
            y.Dispose(); yh.Dispose(); yc.Dispose();
            throw;
        }
    }

    private void CheckLstmOperand(string op, string name, Tensor? t, int[] dims)
    {
        if (t is null) return;
        SameBackend(op, t);
        if (!t.DType.IsFloat() || !t.Shape.Equals(new Shape(dims)))
            throw new TesseraException($"{op}: {name} must be a float tensor [{string.Join(", ", dims)}], got {t.DType.Name()} {t.Shape}");
    }

    // Sequence lengths are read on the host (a few integers) so that a bad one is refused here, on every backend,
    // with its value; the backend gets them as int32 [batch].
    private Tensor? LstmLengths(string op, Tensor? lens, int batch, int seq)
    {
        if (lens is null) return null;
        SameBackend(op, lens);
        if (lens.DType is not (DType.I32 or DType.I64) || lens.Rank != 1 || lens.Dim(0) != batch)
            throw new TesseraException($"{op}: sequence_lens must be int32 or int64 [batch={batch}], got {lens.DType.Name()} {lens.Shape}");
        long[] given = lens.DType == DType.I32 ? [.. lens.ToArray<int>().Select(v => (long)v)] : lens.ToArray<long>();
        var values = new int[batch];
        for (int i = 0; i < batch; i++)
        {
            if (given[i] < 0 || given[i] > seq)
                throw new TesseraException($"{op}: sequence_lens[{i}] = {given[i]} is outside 0..{seq} (the sequence length of X)");
            values[i] = (int)given[i];
        }
        return FromArray(Backend, values, batch);
    }
}
