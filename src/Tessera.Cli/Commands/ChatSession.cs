using System.Diagnostics;
using Tessera.Formats.Gguf;
using Tessera.Formats.Templates;
using Tessera.Formats.Tokenizers;
using Tessera.Models;
using Tessera.Models.Generation;
using Tessera.Models.Nn;

namespace Tessera.Cli.Commands;

/// <summary>What one chat turn did: the rendered prompt's tokens, how many of them were already in the KV cache from
/// the previous turn (only the rest were prefilled), the tokens generated and why generation stopped.</summary>
internal sealed record ChatTurn(int PromptTokens, int ReusedTokens, int GeneratedTokens, string Stop, double PrefillSeconds, double DecodeSeconds);

/// <summary>A conversation with a LLaMA-family model through its chat template. Each turn renders the whole
/// conversation, keeps the KV cache of the longest token prefix it shares with what the cache holds, prefills only the
/// new tokens and streams the reply.</summary>
internal sealed class ChatSession : IDisposable
{
    private readonly Llama _model;
    private readonly Tokenizer _tokenizer;
    private readonly ChatTemplate _template;
    private readonly string? _system;
    private readonly int _maxTokens;
    private readonly TokenSampler _sampler;
    private readonly HashSet<int> _stop;
    private readonly ContiguousKvCache _cache;
    private readonly List<int> _cached = [];
    private readonly float[] _logits;

    public List<ChatMessage> Messages { get; } = [];

    public ChatSession(Llama model, Tokenizer tokenizer, ChatTemplate template, string? system, GenerationOptions options, int contextSize)
    {
        options.Validate();
        if (options.MaxTokens < 1) throw new TesseraException($"chat: --max-tokens must be at least 1, got {options.MaxTokens}");
        _model = model;
        _tokenizer = tokenizer;
        _template = template;
        _system = system;
        _maxTokens = options.MaxTokens;
        _sampler = new TokenSampler(options.Temperature, options.Seed);
        _stop = StopTokens(tokenizer, model);
        _cache = model.CreateCache(Math.Clamp(contextSize, 1, model.ContextLength));
        _logits = new float[model.Config.VocabSize];
        Reset();
    }

    /// <summary>The model's end-of-generation tokens: the vocabulary's EOS and EOG ids and the config's EOS ids.</summary>
    internal static HashSet<int> StopTokens(Tokenizer tokenizer, Llama model)
    {
        var stop = new HashSet<int>(tokenizer.EndOfGenerationIds);
        if (tokenizer.EosId is { } eos) stop.Add(eos);
        foreach (int id in model.Config.EosTokenId ?? []) stop.Add(id);
        return stop;
    }

    /// <summary>Starts the conversation again (with the system message); the cache keeps what the next prompt shares.</summary>
    public void Reset()
    {
        Messages.Clear();
        if (!string.IsNullOrEmpty(_system)) Messages.Add(ChatMessage.System(_system));
    }

    /// <summary>Adds the user's message, streams the reply's text to <paramref name="onText"/> and adds the reply.</summary>
    public ChatTurn Reply(string userText, Action<string> onText, CancellationToken ct)
    {
        Messages.Add(ChatMessage.User(userText));
        int[] ids;
        try { ids = EncodePrompt(_tokenizer, _template.Render(Messages, addGenerationPrompt: true)); }
        catch (TesseraException) { Messages.RemoveAt(Messages.Count - 1); throw; }
        if (ids.Length == 0)
        {
            Messages.RemoveAt(Messages.Count - 1);
            throw new TesseraException("chat: the chat template rendered an empty prompt");
        }
        if (ids.Length >= _cache.MaxLength)
        {
            Messages.RemoveAt(Messages.Count - 1);
            throw new TesseraException($"chat: the conversation's {ids.Length} tokens fill the context of {_cache.MaxLength} (use /reset or a larger --context)");
        }

        // Keep the shared prefix; at least one token must be fed to get the next token's logits.
        int keep = 0;
        while (keep < _cached.Count && keep < ids.Length && _cached[keep] == ids[keep]) keep++;
        if (keep == ids.Length) keep--;
        _cache.Truncate(keep);
        _cached.RemoveRange(keep, _cached.Count - keep);

        long t0 = Stopwatch.GetTimestamp();
        int next = Step(ids.AsSpan(keep));
        _cached.AddRange(ids.AsSpan(keep));
        double prefill = Stopwatch.GetElapsedTime(t0).TotalSeconds;

        var detok = _tokenizer.CreateStreamingDetokenizer();
        var text = new System.Text.StringBuilder();
        int generated = 0;
        string stop = "length";
        long t1 = Stopwatch.GetTimestamp();
        while (true)
        {
            if (_stop.Contains(next)) { stop = "eos"; break; }
            generated++;
            string piece = detok.Push(next);
            text.Append(piece);
            if (piece.Length > 0) onText(piece);
            if (generated >= _maxTokens || _cached.Count >= _cache.MaxLength) break;
            if (ct.IsCancellationRequested) { stop = "cancelled"; break; }
            int fed = next;
            next = Step([fed]);
            _cached.Add(fed);
        }
        string rest = detok.Flush();
        text.Append(rest);
        if (rest.Length > 0) onText(rest);
        Messages.Add(ChatMessage.Assistant(text.ToString()));
        return new ChatTurn(ids.Length, keep, generated, stop, prefill, Stopwatch.GetElapsedTime(t1).TotalSeconds);
    }

    // One forward pass continuing the cache; only the last position's logits are computed.
    private int Step(ReadOnlySpan<int> ids)
    {
        using var scope = TensorScope.Begin();
        using var output = _model.Forward(ids, _cache, lastOnly: true);
        output.CopyTo<float>(_logits);
        return _sampler.Sample(_logits);
    }

    /// <summary>The ids of a rendered chat prompt: special-token text (the template's own markers) becomes special
    /// tokens, and BOS is put first when the vocabulary wants one and the template did not write it.</summary>
    internal static int[] EncodePrompt(Tokenizer tokenizer, string prompt)
    {
        int[] ids = tokenizer.Encode(prompt, addSpecial: false, parseSpecial: true);
        if (tokenizer.AddBos && tokenizer.BosId is { } bos && (ids.Length == 0 || ids[0] != bos)) ids = [bos, .. ids];
        return ids;
    }

    /// <summary>The chat template of a GGUF file or a Hugging Face model directory (ChatML when it has none).</summary>
    internal static ChatTemplate OpenTemplate(string model, Tokenizer tokenizer)
    {
        if (Directory.Exists(model))
        {
            string config = Path.Combine(model, "tokenizer_config.json");
            if (File.Exists(config)) return ChatTemplate.FromHuggingFace(config);
            return ChatTemplate.ChatMl(tokenizer.BosId is { } b ? tokenizer.TokenText(b) : null, tokenizer.EosId is { } e ? tokenizer.TokenText(e) : null);
        }
        using var gguf = GgufFile.Open(model);
        return ChatTemplate.FromGguf(gguf);
    }

    public void Dispose() => _cache.Dispose();
}
