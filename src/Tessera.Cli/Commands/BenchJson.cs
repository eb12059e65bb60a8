using System.Text.Json.Serialization;

namespace Tessera.Cli.Commands;

#pragma warning disable IDE1006 // JSON field names are the documented snake_case keys
/// <summary>One GEMM benchmark result, serialised with the keys the benchmark contract names.</summary>
internal sealed record GemmResult(string op, string backend, int m, int k, int n, string dtype, int threads,
    double ms_median, double gflops, double peak_gflops, double fraction_of_peak);
#pragma warning restore IDE1006

/// <summary>Source-generated JSON (NativeAOT-safe: no reflection).</summary>
[JsonSerializable(typeof(GemmResult))]
[JsonSerializable(typeof(QMatMulResult))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
