using System.CommandLine;
using System.Text;
using System.Text.Json;
using Tessera.Models;
using Tessera.Models.Generation;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera chat --model FILE [--system TEXT] [--max-tokens N] [--temperature T] [--seed S] [--context N]
/// [--threads N] [--backend cpu|cuda] [--json]</c>: an interactive conversation through the model's own chat template
/// (ChatML when it has none). Each stdin line is a user message and the reply streams to stdout; <c>/reset</c> starts
/// again, <c>/save FILE</c> writes the conversation as JSON messages, <c>/exit</c> (or the end of stdin) quits. The KV
/// cache carries over between turns: only the tokens a turn adds are prefilled. With --json nothing streams and one
/// JSON object is printed at the end: the messages and, per turn, the prompt, reused, prefilled and generated tokens.</summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "a .gguf file or a Hugging Face model directory", Required = true };
        var system = new Option<string?>("--system") { Description = "a system message to start the conversation with" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "most tokens in one reply", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "0: greedy; above 0: sample from softmax(logits / T)", DefaultValueFactory = _ => 0f };
        var seed = new Option<int?>("--seed") { Description = "seed of the sampling draw (repeatable runs)" };
        var context = new Option<int>("--context") { Description = "positions the KV cache holds (default: the model's context, at most 4096)" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)" };
        var backend = new Option<string>("--backend") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print one JSON object at the end instead of streaming" };
        var cmd = new Command("chat", "Chat with a LLaMA-family model through its chat template (stdin lines; /reset, /save FILE, /exit)")
            { model, system, maxTokens, temperature, seed, context, threads, backend, json };
        cmd.SetAction((pr, ct) => Task.FromResult(InspectCommand.Guard("chat", () =>
        {
            var options = new GenerationOptions { MaxTokens = pr.GetValue(maxTokens), Temperature = pr.GetValue(temperature), Seed = pr.GetValue(seed) };
            using var be = GenerateCommand.CreateBackend(pr.GetValue(backend)!, pr.GetValue(threads));
            return Run(pr.GetValue(model)!, pr.GetValue(system), options, pr.GetValue(context), be, pr.GetValue(json), Console.In, Console.Out, ct);
        })));
        return cmd;
    }

    internal static int Run(string modelPath, string? system, GenerationOptions options, int contextSize, IBackend backend, bool json,
        TextReader input, TextWriter output, CancellationToken ct)
    {
        var tokenizer = GenerateCommand.OpenTokenizer(modelPath);
        var template = ChatSession.OpenTemplate(modelPath, tokenizer);
        using var model = LlamaLoader.Open(backend, modelPath);
        int context = contextSize > 0 ? contextSize : Math.Min(model.ContextLength, 4096);
        using var session = new ChatSession(model, tokenizer, template, system, options, context);
        var turns = new List<ChatTurn>();
        bool interactive = !json && !Console.IsInputRedirected;
        if (interactive) output.WriteLine($"chat with {Path.GetFileName(modelPath)} ({(template.IsChatMlFallback ? "ChatML: the model has no template" : "the model's template")}); /reset, /save FILE, /exit");

        while (!ct.IsCancellationRequested)
        {
            if (interactive)
            {
                output.Write("> ");
                output.Flush();
            }
            string? line = input.ReadLine();
            if (line is null) break;
            string trimmed = line.Trim();
            if (trimmed.Length == 0) continue;
            if (trimmed is "/exit" or "/quit") break;
            try { Handle(line, trimmed, session, turns, json, output, ct); }
            catch (TesseraException e) when (interactive)
            {
                // A typo or a message the template refuses should not end an interactive chat; a script's run fails.
                Console.Error.WriteLine($"tessera chat: {e.Message}");
            }
        }
        if (json) output.WriteLine(Report(session.Messages, turns));
        return 0;
    }

    // One input line: a command (/reset, /save FILE) or a user message answered by the model.
    private static void Handle(string line, string trimmed, ChatSession session, List<ChatTurn> turns, bool json, TextWriter output, CancellationToken ct)
    {
        if (trimmed == "/reset")
        {
            session.Reset();
            if (!json) output.WriteLine("[conversation reset]");
            return;
        }
        if (trimmed.StartsWith("/save", StringComparison.Ordinal) && (trimmed.Length == 5 || trimmed[5] == ' '))
        {
            string file = trimmed[5..].Trim();
            if (file.Length == 0) throw new TesseraException("chat: /save needs a file name");
            File.WriteAllText(file, MessagesJson(session.Messages, indented: true) + "\n");
            if (!json) output.WriteLine($"[saved {session.Messages.Count} messages to {file}]");
            return;
        }
        if (trimmed.StartsWith('/') && !trimmed.StartsWith("//", StringComparison.Ordinal))
            throw new TesseraException($"chat: unknown command '{trimmed.Split(' ')[0]}' (/reset, /save FILE, /exit; start a message with // to send a slash)");
        string message = trimmed.StartsWith("//", StringComparison.Ordinal) ? line.TrimStart()[1..] : line;
        turns.Add(session.Reply(message, piece =>
        {
            if (json) return;
            output.Write(piece);
            output.Flush();
        }, ct));
        if (!json) output.WriteLine();
    }

    /// <summary>The messages as a JSON array (what /save writes).</summary>
    internal static string MessagesJson(IReadOnlyList<Formats.Templates.ChatMessage> messages, bool indented)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < messages.Count; i++)
        {
            if (i > 0) sb.Append(',');
            if (indented) sb.Append("\n  ");
            sb.Append(messages[i].ToJson());
        }
        if (indented && messages.Count > 0) sb.Append('\n');
        return sb.Append(']').ToString();
    }

    // {"messages": [...], "turns": [{"prompt_tokens", "reused_tokens", "prefill_tokens", "generated_tokens", "stop",
    //  "prefill_tok_s", "decode_tok_s"}]}, written by hand so that the messages keep their own JSON.
    private static string Report(IReadOnlyList<Formats.Templates.ChatMessage> messages, IReadOnlyList<ChatTurn> turns)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WritePropertyName("messages");
            w.WriteRawValue(MessagesJson(messages, indented: false));
            w.WriteStartArray("turns");
            foreach (var t in turns)
            {
                w.WriteStartObject();
                w.WriteNumber("prompt_tokens", t.PromptTokens);
                w.WriteNumber("reused_tokens", t.ReusedTokens);
                w.WriteNumber("prefill_tokens", t.PromptTokens - t.ReusedTokens);
                w.WriteNumber("generated_tokens", t.GeneratedTokens);
                w.WriteString("stop", t.Stop);
                w.WriteNumber("prefill_tok_s", t.PrefillSeconds > 0 ? Math.Round((t.PromptTokens - t.ReusedTokens) / t.PrefillSeconds, 2) : 0);
                w.WriteNumber("decode_tok_s", t.DecodeSeconds > 0 && t.GeneratedTokens > 1 ? Math.Round((t.GeneratedTokens - 1) / t.DecodeSeconds, 2) : 0);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
