using System.Text.Json;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera chat</c> driven through a pipe, and <c>generate --chat</c>, on the real stories260K GGUF, which has
/// no chat template (so ChatML, as llama-server): the KV cache really carries over between turns (the second turn
/// prefills only what it adds) without changing the answer, /reset and /save work, and bad input is a clear error.</summary>
public sealed class ChatCommandTests
{
    private static readonly string Model = Path.GetFullPath(Path.Combine(TesseraProcess.RepoRoot, "..", "shared", "models", "llm", "stories260K", "stories260K.gguf"));

    private static void SkipWithoutModel() => Skip.IfNot(File.Exists(Model), $"stories260K.gguf is absent ({Model})");

    private static string[] Chat(params string[] extra) =>
        ["chat", "--model", Model, "--max-tokens", "20", "--threads", "1", .. extra];

    private static string ChatMl(params (string Role, string Content)[] turns) =>
        string.Concat(turns.Select(t => $"<|im_start|>{t.Role}\n{t.Content}<|im_end|>\n")) + "<|im_start|>assistant\n";

    [SkippableFact]
    public void Two_turns_reuse_the_cache_and_the_second_reply_equals_a_fresh_run()
    {
        SkipWithoutModel();
        var r = TesseraProcess.RunWithInput("Hello there\nTell me a story\n", Chat("--json"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var messages = doc.RootElement.GetProperty("messages").EnumerateArray().ToList();
        var turns = doc.RootElement.GetProperty("turns").EnumerateArray().ToList();
        Assert.Equal(["user", "assistant", "user", "assistant"], messages.Select(m => m.GetProperty("role").GetString()));
        Assert.Equal(2, turns.Count);
        int Get(int turn, string key) => turns[turn].GetProperty(key).GetInt32();
        Assert.Equal(0, Get(0, "reused_tokens"));
        Assert.Equal(20, Get(0, "generated_tokens"));
        // Turn 2's prompt starts with turn 1's prompt and reply: the cache held prompt + 19 fed tokens, all of them reused.
        Assert.Equal(Get(0, "prompt_tokens") + 19, Get(1, "reused_tokens"));
        Assert.Equal(Get(1, "prompt_tokens") - Get(1, "reused_tokens"), Get(1, "prefill_tokens"));

        // A fresh run over the whole second prompt (ChatML written out here; its markers are plain text in this
        // 512-token vocabulary) gives the same greedy reply as the turn that reused the cache.
        string reply1 = messages[1].GetProperty("content").GetString()!, reply2 = messages[3].GetProperty("content").GetString()!;
        string prompt = ChatMl(("user", "Hello there"), ("assistant", reply1), ("user", "Tell me a story"));
        var fresh = TesseraProcess.Run("generate", "--model", Model, "--prompt", prompt, "--max-tokens", "20", "--threads", "1", "--json");
        Assert.True(fresh.ExitCode == 0, fresh.Stderr);
        using var f = JsonDocument.Parse(fresh.Stdout);
        Assert.Equal(Get(1, "prompt_tokens"), f.RootElement.GetProperty("prompt_tokens").GetArrayLength());
        Assert.Equal(reply2, f.RootElement.GetProperty("text").GetString());
    }

    [SkippableFact]
    public void Streaming_reset_and_save_work_over_a_pipe()
    {
        SkipWithoutModel();
        string dir = Directory.CreateTempSubdirectory("tessera-chat-").FullName;
        try
        {
            string saved = Path.Combine(dir, "conversation.json");
            var r = TesseraProcess.RunWithInput($"Hello there\n/save {saved}\n/reset\nHello there\n/exit\nnot read\n", Chat("--system", "Be kind."));
            Assert.True(r.ExitCode == 0, r.Stderr);
            var lines = r.Stdout.Split('\n');
            string reply = lines[0];
            Assert.NotEmpty(reply);
            Assert.Contains($"[saved 3 messages to {saved}]", r.Stdout);
            Assert.Contains("[conversation reset]", r.Stdout);
            // After /reset the same message gets the same greedy reply (streamed the same way).
            int after = Array.IndexOf(lines, "[conversation reset]");
            Assert.Equal(reply, lines[after + 1]);

            using var doc = JsonDocument.Parse(File.ReadAllText(saved));
            var m = doc.RootElement.EnumerateArray().ToList();
            Assert.Equal(["system", "user", "assistant"], m.Select(x => x.GetProperty("role").GetString()));
            Assert.Equal("Be kind.", m[0].GetProperty("content").GetString());
            Assert.Equal(reply, m[2].GetProperty("content").GetString()!.Split('\n')[0]);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SkippableFact]
    public void Generate_chat_sends_the_prompt_through_the_template()
    {
        SkipWithoutModel();
        var r = TesseraProcess.Run("generate", "--model", Model, "--prompt", "Hi", "--chat", "--max-tokens", "5", "--threads", "1", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var t = TesseraProcess.Run("tokenize", "--model", Model, "--text", ChatMl(("user", "Hi")), "--json");
        Assert.True(t.ExitCode == 0, t.Stderr);
        using var g = JsonDocument.Parse(r.Stdout);
        using var k = JsonDocument.Parse(t.Stdout);
        Assert.Equal(k.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()),
            g.RootElement.GetProperty("prompt_tokens").EnumerateArray().Select(e => e.GetInt32()));
    }

    [SkippableFact]
    public void An_unknown_command_is_a_clear_error()
    {
        SkipWithoutModel();
        var r = TesseraProcess.RunWithInput("/frobnicate\n", Chat());
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unknown command '/frobnicate'", r.Stderr);
        var missing = TesseraProcess.RunWithInput("hi\n", "chat", "--model", "/nonexistent/model.gguf");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("/nonexistent/model.gguf", missing.Stderr);
    }
}
