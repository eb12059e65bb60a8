using System.Collections.Concurrent;
using System.Text;

namespace Tessera.Tests;

/// <summary>What running one row on one backend gave.</summary>
public enum RowResult { Passed, Failed, Unsupported }

/// <summary>The outcome of a (row, backend) case, with the failure or the reason it was not run.</summary>
public sealed record RowOutcome(RowResult Result, string? Message);

/// <summary>Runs each (row, backend) case at most once per process and keeps its outcome, so that the per-row xunit
/// cases and the summary share the work whichever runs first. A row is unsupported on a backend, as in ggml's
/// test-backend-ops, when a member it exercises has no body of the backend's own (IBackend's default body,
/// found through the interface map) and that default body refuses ("the cuda backend has no ... yet"); a refusal
/// from a member the backend does implement is a failure like any other.</summary>
public static class OpTableLedger
{
    private static readonly ConcurrentDictionary<(string Row, string Backend), Lazy<RowOutcome>> s_outcomes = new();

    public static RowOutcome Outcome(OpRow row, string backendName) =>
        s_outcomes.GetOrAdd((row.Name, backendName), _ => new Lazy<RowOutcome>(() => Classify(row, backendName, TestBackends.Get(backendName)))).Value;

    /// <summary>Runs a row on a backend (not remembered) and says whether it passed, failed or is unsupported there.</summary>
    public static RowOutcome Classify(OpRow row, string backendName, IBackend backend)
    {
        try
        {
            string? failure = OpRunner.Execute(row, backendName, backend);
            return new(failure is null ? RowResult.Passed : RowResult.Failed, failure);
        }
        catch (TesseraException e) when (RefusedByDefaultBody(e, row, backend) is { } member)
        {
            return new(RowResult.Unsupported, $"unsupported: {backendName} has no {member} of its own (IBackend's default body: {e.Message})");
        }
        catch (Exception e)
        {
            return new(RowResult.Failed, $"{row.Name} on {backendName}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
        }
    }

    /// <summary>The member whose default body threw: the method that threw is declared by IBackend itself (this also
    /// catches a member the row did not declare, such as IndexSelect under a Rope with positions), or, should the JIT
    /// hide that frame, a "has no ..." refusal while a declared member of the row has no body of the backend's.</summary>
    private static string? RefusedByDefaultBody(TesseraException e, OpRow row, IBackend backend)
    {
        if (e.TargetSite is { } site && site.DeclaringType == typeof(IBackend) && BackendSurface.Ops.Contains(site.Name)
            && !BackendSurface.Implements(backend, site.Name))
            return site.Name;
        var defaults = row.Ops.Where(op => !BackendSurface.Implements(backend, op)).ToArray();
        return defaults.Length > 0 && e.Message.Contains(" has no ") ? string.Join(", ", defaults) : null;
    }

    /// <summary>ggml's summary, member by backend: "own" (the backend implements it), "default" (IBackend's default
    /// body, built from other members) or "unsupported" (the default body refuses), with rows passed / run.</summary>
    public static string Summary(IReadOnlyDictionary<string, OpRow> rows, IReadOnlyCollection<string> backends)
    {
        var sb = new StringBuilder();
        sb.Append($"{"member",-18}");
        foreach (var b in backends) sb.Append($" | {b,-24}");
        sb.AppendLine();
        foreach (var op in BackendSurface.Ops)
        {
            var mine = rows.Values.Where(r => r.Ops.Contains(op)).ToArray();
            sb.Append($"{op,-18}");
            foreach (var b in backends)
            {
                var outcomes = mine.Select(r => Outcome(r, b)).ToArray();
                int passed = outcomes.Count(o => o.Result == RowResult.Passed);
                int run = outcomes.Count(o => o.Result != RowResult.Unsupported);
                string support = BackendSurface.Implements(TestBackends.Get(b), op) ? "own"
                    : run == 0 && outcomes.Length > 0 ? "unsupported" : "default";
                sb.Append($" | {support,-11} {passed,4}/{run,-4}  ");
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
