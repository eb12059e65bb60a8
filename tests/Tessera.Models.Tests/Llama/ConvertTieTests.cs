using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Gguf;
using Tessera.Models.Conversion;
using Tessera.Models.Nn;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Llama;

/// <summary>Why a quantized converted file can differ from llama.cpp by ~1e-2 at a few positions while every other
/// position agrees to 1e-7 (issue 12's open defect): both engines quantize a quantized linear's input per 32-value
/// block as q = round-half-even(x * 127 / max|x|) (ggml's quantize_row_q8_0, bit for bit), but x itself is computed in
/// f32 by different code (SwiGLU's exp, the order of the block sums of the gate/up dot products), so the two x can differ
/// in the last bit. When x * 127 / max|x| lands on (or within an ulp of) a half, that last bit decides the int8 value,
/// and one int8 step of the down projection's input moves that position's hidden state by ~1e-3 and its logits by up
/// to ~1e-2 (more through later layers and the KV cache). Measured on the first case (seed 21, Q8_0 weights, a Q8_0
/// output, an f32 embedding, one layer): position 7 differs by 3.7e-3 and has a down-projection input at exactly
/// q = -62.5 (Tessera -62, llama.cpp -63); moving that one activation by one ulp across the tie makes every position
/// agree to 1.5e-7. The second (the file issue 12 blamed on a quantized embedding) is the same thing in a layer-1
/// attention input at position 0 (q = 34.499996): 1.1e-2..2.4e-2 at every position, 2.4e-7 after the nudge. Neither the quantized embedding, the output type nor the batch size is involved (both engines are
/// batch invariant on this file). Agreement beyond this needs bit-identical f32 kernels (ggml's exp approximation and
/// dot-product order), not a conversion fix.</summary>
public sealed class ConvertTieTests(ITestOutputHelper output)
{
    /// <summary>Where the flipped activation is: a linear's input in one layer at one position.</summary>
    public enum Site { AttentionInput, DownInput }

    // seed 21: Q8_0 weights, a Q8_0 output, an f32 embedding, one layer kept; position 7's down-projection input has an
    // activation at exactly q = -62.5. seed 23: Q8_0 everywhere (embedding too), both layers; layer 1's attention input
    // at position 0 has q = 34.499996, one ulp under a half, and the flipped key/value reaches every later position.
    public static TheoryData<int, string, int, int, Site, int> Cases() => new()
    {
        { 21, "Q8_0/F32", 8, 1, Site.DownInput, 0 },
        { 23, "", 6, 2, Site.AttentionInput, 1 },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void A_gap_to_llama_cpp_is_one_activation_on_a_rounding_tie(int seed, string types, int promptLength, int layers, Site site, int layer)
    {
        Skip.If(LlamaCpp.Unavailable is not null, LlamaCpp.Unavailable);
        var shape = RandomLlamaShape.LlamaBlocks;
        var rng = new Random(31);
        var prompt = Enumerable.Range(0, promptLength).Select(_ => rng.Next(shape.Vocab)).ToArray();
        string dir = ConvertFixture.TempDir("convert-tie");
        try
        {
            string hf = ConvertFixture.HuggingFace(dir, shape, seed), full = Path.Combine(dir, "out.gguf"), cut = Path.Combine(dir, "cut.gguf");
            LlamaGgufConverter.Convert(hf, full, new GgufConvertOptions
            {
                Type = GgufOutputType.Q8_0,
                OutputTensorType = types == "" ? null : Enum.Parse<GgmlType>(types.Split('/')[0]),
                TokenEmbeddingType = types == "" ? null : Enum.Parse<GgmlType>(types.Split('/')[1]),
            });
            ConvertFixture.KeepLayers(full, cut, layers);
            using var oracle = new LlamaCpp(cut);
            var want = oracle.Eval(prompt, 0);
            using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
            using var model = LlamaLoader.Open(cpu, cut);
            var gaps = Gaps(Run(model, cpu, prompt, null), want, shape.Vocab);
            output.WriteLine("per position: " + string.Join(" ", gaps.Select(g => g.ToString("E1"))));
            int at = Array.FindIndex(gaps, g => g > 1e-3);
            if (at < 0)
            {
                // The kernels now round this file's activations alike: nothing to explain, and every position agrees.
                Assert.All(gaps, g => Assert.True(g < 1e-5, $"gap {g:E2}"));
                return;
            }
            var after = Gaps(Run(model, cpu, prompt, (site, layer, at)), want, shape.Vocab);
            output.WriteLine($"one activation of {site} in layer {layer} at position {at} nudged across its tie: " + string.Join(" ", after.Select(g => g.ToString("E1"))));
            Assert.All(after, g => Assert.True(g < 1e-5, $"after the nudge a position still differs by {g:E2}"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // The model's logits computed block by block as TransformerBlock does; with a nudge, the activation of that linear
    // input (layer, position) nearest a rounding half is moved by the fewest ulps to the other side of it.
    private float[] Run(Models.Llama model, IBackend cpu, int[] prompt, (Site Site, int Layer, int Position)? nudge)
    {
        var x = model.Embeddings(prompt);
        for (int i = 0; i < model.Blocks.Count; i++)
        {
            var blk = model.Blocks[i];
            var mlp = (GatedMlp)blk.Mlp;
            using var input = x;
            using var n1 = Nudged(blk.Norm1.Forward(input), cpu, nudge is { Site: Site.AttentionInput } a && a.Layer == i ? a.Position : null);
            using var h = blk.Attention.Forward(n1, new AttentionInputs(Layer: i), residual: input);
            using var n2 = blk.Norm2.Forward(h);
            using var u = mlp.Up.Forward(n2);
            using var g = Nudged(mlp.Gate.Forward(n2, new MatMulEpilogue(Activation: Activation.Silu, Multiplier: u)), cpu,
                nudge is { Site: Site.DownInput } d && d.Layer == i ? d.Position : null);
            x = mlp.Down.Forward(g, new MatMulEpilogue(Residual: h));
        }
        using (x)
        {
            using var n = model.Norm.Forward(x);
            using var logits = model.Head.Forward(n);
            return logits.ToFloatArray();
        }
    }

    private Tensor Nudged(Tensor t, IBackend cpu, int? position)
    {
        if (position is not { } p) return t;
        using (t)
        {
            var v = t.ToFloatArray();
            int width = t.Dim(-1);
            NudgeNearestTie(v.AsSpan(p * width, width));
            return Tensor.FromArray(cpu, v, t.Shape.Dims.ToArray());
        }
    }

    // Q8_0's activation quantization: q = x * 127 / max|x| per 32 values, rounded half to even.
    private void NudgeNearestTie(Span<float> row)
    {
        int best = -1;
        double bestDist = 1;
        float bestId = 0;
        for (int b = 0; b < row.Length; b += 32)
        {
            var block = row.Slice(b, 32);
            float amax = 0;
            foreach (float v in block) amax = MathF.Max(amax, MathF.Abs(v));
            float id = amax == 0 ? 0 : 127f / amax;
            for (int i = 0; i < 32; i++)
            {
                float q = block[i] * id;
                double dist = Math.Abs(Math.Abs(q - MathF.Truncate(q)) - 0.5);
                if (dist < bestDist) (best, bestDist, bestId) = (b + i, dist, id);
            }
        }
        float x0 = row[best], q0 = x0 * bestId;
        int r0 = (int)MathF.Round(q0);
        bool up = r0 <= q0; // Tessera rounded down: llama.cpp's last bit went up
        float x1 = x0;
        for (int step = 0; step < 16 && (int)MathF.Round(x1 * bestId) == r0; step++) x1 = up ? MathF.BitIncrement(x1) : MathF.BitDecrement(x1);
        output.WriteLine($"activation {best}: x {x0:R}, x*127/max|x| = {q0:R} (distance to a half {bestDist:E1}) rounds to {r0}; {x1:R} rounds to {(int)MathF.Round(x1 * bestId)}");
        Assert.True(bestDist < 1e-4, $"no activation near a rounding half (nearest {bestDist:E1}): the gap has another cause");
        row[best] = x1;
    }

    private static double[] Gaps(float[] got, float[][] want, int vocab) =>
        Enumerable.Range(0, want.Length).Select(p => LlamaLogitsTests.MaxDiff(got.AsSpan(p * vocab, vocab), want[p])).ToArray();
}
