using System.Text.Json.Serialization;

namespace Tessera.Cli.Commands;

#pragma warning disable IDE1006 // JSON field names are the documented snake_case keys
/// <summary>One GEMM benchmark result, serialised with the keys the benchmark contract names.</summary>
internal sealed record GemmResult(string op, string backend, int m, int k, int n, string dtype, int threads,
    double ms_median, double gflops, double peak_gflops, double fraction_of_peak);

/// <summary>One attention benchmark result (see <see cref="AttentionBench"/>); peak_bytes = scratch_peak_bytes +
/// managed_bytes + output_bytes for one call.</summary>
internal sealed record AttentionResult(string op, string backend, int batch, int heads, int kv_heads, int seq, int head_dim,
    bool causal, int threads, double ms_median, double gflops, long peak_bytes, long scratch_peak_bytes, long managed_bytes, long output_bytes);
#pragma warning restore IDE1006

/// <summary>Source-generated JSON (NativeAOT-safe: no reflection).</summary>
[JsonSerializable(typeof(GemmResult))]
[JsonSerializable(typeof(AttentionResult))]
[JsonSerializable(typeof(QMatMulResult))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
