namespace Tessera.Models.Generation.Sampling;

/// <summary>The tokens still in the running while a sampling chain narrows them down (llama.cpp's
/// <c>llama_token_data_array</c>): ids with their logits and, once <see cref="Softmax"/> ran, their probabilities.
/// The first <see cref="Count"/> entries are live; a stage that keeps fewer lowers <see cref="Count"/>.</summary>
public sealed class TokenCandidates
{
    private int[] _ids = [];
    private float[] _logits = [];
    private double[] _probs = [];
    private float[] _keys = [];

    /// <summary>Live entries.</summary>
    public int Count { get; internal set; }

    /// <summary>Whether the live entries are in descending logit order (ties: as the sort left them).</summary>
    public bool Sorted { get; internal set; }

    /// <summary>Token ids of the live entries.</summary>
    public Span<int> Ids => _ids.AsSpan(0, Count);

    /// <summary>Logits of the live entries.</summary>
    public Span<float> Logits => _logits.AsSpan(0, Count);

    /// <summary>Probabilities of the live entries, valid after <see cref="Softmax"/> (stages that need them call it).</summary>
    public Span<double> Probabilities => _probs.AsSpan(0, Count);

    /// <summary>Fills the candidates with every token whose logit is not -infinity (a masked token is out), in id order.</summary>
    public void Reset(ReadOnlySpan<float> logits)
    {
        if (_ids.Length < logits.Length)
        {
            _ids = new int[logits.Length];
            _logits = new float[logits.Length];
            _probs = new double[logits.Length];
            _keys = new float[logits.Length];
        }
        int n = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNegativeInfinity(logits[i])) continue;
            _ids[n] = i;
            _logits[n++] = logits[i];
        }
        Count = n;
        Sorted = false;
    }

    /// <summary>Sorts the live entries by descending logit.</summary>
    public void Sort()
    {
        if (Sorted) return;
        // Array.Sort on negated keys is an ascending sort of the logits' descending order; ids (and nothing else) ride along.
        for (int i = 0; i < Count; i++) _keys[i] = -_logits[i];
        Array.Sort(_keys, _ids, 0, Count);
        for (int i = 0; i < Count; i++) _logits[i] = -_keys[i];
        Sorted = true;
    }

    /// <summary>Keeps the <paramref name="k"/> highest logits, sorted: a size-k min-heap pass (O(n log k)) instead of a
    /// sort of the whole vocabulary when k is small.</summary>
    public void KeepTop(int k)
    {
        if (k >= Count || Sorted || k > Count / 8)
        {
            Sort();
            Truncate(k);
            return;
        }
        var heapL = new float[k];
        var heapI = new int[k];
        int size = 0;
        for (int i = 0; i < Count; i++)
        {
            float l = _logits[i];
            if (size < k)
            {
                // Sift up.
                int j = size++;
                while (j > 0 && heapL[(j - 1) / 2] > l)
                {
                    heapL[j] = heapL[(j - 1) / 2];
                    heapI[j] = heapI[(j - 1) / 2];
                    j = (j - 1) / 2;
                }
                heapL[j] = l;
                heapI[j] = _ids[i];
            }
            else if (l > heapL[0])
            {
                // Replace the smallest and sift down.
                int j = 0;
                while (true)
                {
                    int c = 2 * j + 1;
                    if (c >= k) break;
                    if (c + 1 < k && heapL[c + 1] < heapL[c]) c++;
                    if (heapL[c] >= l) break;
                    heapL[j] = heapL[c];
                    heapI[j] = heapI[c];
                    j = c;
                }
                heapL[j] = l;
                heapI[j] = _ids[i];
            }
        }
        heapL.CopyTo(_logits, 0);
        heapI.CopyTo(_ids, 0);
        Count = k;
        Sort();
    }

    /// <summary>Sorts, then sets each probability to softmax over the live logits (in double, shifted by the maximum).</summary>
    public void Softmax()
    {
        Sort();
        if (Count == 0) return;
        double max = _logits[0], sum = 0;
        for (int i = 0; i < Count; i++) sum += _probs[i] = Math.Exp(_logits[i] - max);
        for (int i = 0; i < Count; i++) _probs[i] /= sum;
    }

    /// <summary>Keeps the first <paramref name="count"/> live entries.</summary>
    public void Truncate(int count) => Count = Math.Clamp(count, 0, Count);

    /// <summary>Keeps the entries at <paramref name="order"/>[0..<paramref name="keep"/>) in that order (for stages that
    /// rank by something other than the logit). <paramref name="order"/> holds indexes into the live entries.</summary>
    internal void KeepInOrder(ReadOnlySpan<int> order, int keep)
    {
        var ids = new int[keep];
        var logits = new float[keep];
        var probs = new double[keep];
        for (int i = 0; i < keep; i++)
        {
            ids[i] = _ids[order[i]];
            logits[i] = _logits[order[i]];
            probs[i] = _probs[order[i]];
        }
        ids.CopyTo(_ids, 0);
        logits.CopyTo(_logits, 0);
        probs.CopyTo(_probs, 0);
        Count = keep;
        Sorted = false;
    }
}
