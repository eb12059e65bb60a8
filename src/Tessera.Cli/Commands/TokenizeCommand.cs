using System.CommandLine;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera tokenize --model FILE --text TEXT [--json]</c>: the ids of the text (BOS as the model's
/// vocabulary asks, special-token text not parsed) and each id's piece, as llama.cpp's llama-tokenize prints them.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "a .gguf file or a Hugging Face model directory (tokenizer.json)", Required = true };
        var text = new Option<string>("--text") { Description = "the text to tokenize", Required = true };
        var json = new Option<bool>("--json") { Description = "print one JSON object: ids and pieces" };
        var cmd = new Command("tokenize", "Show the token ids and pieces of a text") { model, text, json };
        cmd.SetAction(pr => InspectCommand.Guard("tokenize", () =>
        {
            var tokenizer = GenerateCommand.OpenTokenizer(pr.GetValue(model)!);
            int[] ids = tokenizer.Encode(pr.GetValue(text)!, addSpecial: true, parseSpecial: false);
            // A piece may be part of a character (a byte token): shown with U+FFFD for the missing part.
            string[] pieces = ids.Select(id => Encoding.UTF8.GetString(tokenizer.TokenToPiece(id, renderSpecial: true))).ToArray();
            if (pr.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new TokenizeReport(ids, pieces), Json.TokenizeReport));
            else
                for (int i = 0; i < ids.Length; i++) Console.WriteLine($"{ids[i],7} -> '{pieces[i]}'");
            return 0;
        }));
        return cmd;
    }

    private static readonly GenerateJsonContext Json = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
