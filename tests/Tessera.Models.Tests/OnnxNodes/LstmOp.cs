namespace Tessera.Models.Tests.OnnxNodes;

/// <summary>ONNX LSTM on Tensor.Lstm: the node's attributes become <see cref="LstmOptions"/>; inputs X, W, R, B,
/// sequence_lens, initial_h, initial_c, P; outputs Y, Y_h, Y_c. Tessera runs the default activations (sigmoid, tanh,
/// tanh) only.</summary>
internal static class LstmOp
{
    public static Tensor?[] Run(NodeContext c)
    {
        if (c.Has("activation_alpha") || c.Has("activation_beta"))
            throw new NotMappedException("LSTM activation_alpha/activation_beta");
        if (c.Has("activations"))
        {
            var acts = c.Node.Attributes["activations"].Strings;
            if (!acts.Chunk(3).All(a => a.SequenceEqual(["Sigmoid", "Tanh", "Tanh"])))
                throw new NotMappedException($"LSTM activations [{string.Join(", ", acts)}]: Tessera runs sigmoid, tanh, tanh");
        }
        string direction = c.Str("direction", "forward");
        var options = new LstmOptions
        {
            Direction = direction switch
            {
                "forward" => LstmDirection.Forward,
                "reverse" => LstmDirection.Reverse,
                "bidirectional" => LstmDirection.Bidirectional,
                _ => throw new InvalidDataException($"LSTM direction '{direction}'"),
            },
            BatchFirst = c.Int("layout", 0) == 1,
            Clip = c.Has("clip") ? c.Float("clip", 0) : null,
            InputForget = c.Int("input_forget", 0) == 1,
        };
        var result = c.FloatIn(0).Lstm(c.In(1), c.In(2), c.Opt(3), options, c.Opt(5), c.Opt(6), c.Opt(7), c.Opt(4));
        long hidden = c.Int("hidden_size", result.Yh.Shape[-1]);
        if (hidden != result.Yh.Shape[-1]) throw new InvalidDataException($"LSTM hidden_size {hidden}, the weights give {result.Yh.Shape[-1]}");
        return [result.Y, result.Yh, result.Yc];
    }
}
