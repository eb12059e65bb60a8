using System.Diagnostics;
using System.Reflection;
using Tessera.Cuda;
using Tessera.Kernels;
using Tessera.Kernels.Compiler;

// tessera-kernels-compiler --out <dir>: compiles every public static [Kernel] method of Tessera.Kernels to PTX
// for each target architecture and writes <dir>/<arch>/<Class.Method>.ptx and <dir>/manifest.json.
// Exit code 1, with every failing kernel named, when any kernel does not compile.
string? outDir = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
    else { Console.Error.WriteLine($"unknown argument '{args[i]}'; usage: --out <dir>"); return 2; }
}
if (outDir is null) { Console.Error.WriteLine("usage: Tessera.Kernels.Compiler --out <dir>"); return 2; }

var sw = Stopwatch.StartNew();
var kernels = KernelDiscovery.Find(typeof(KernelAttribute).Assembly, out var discoveryErrors);
var result = PtxCompiler.CompileAll(kernels, Path.GetFullPath(outDir));
var errors = discoveryErrors.Concat(result.Errors).ToList();
if (errors.Count > 0)
{
    foreach (var e in errors) Console.Error.WriteLine($"error TKC001: {e}");
    Console.Error.WriteLine($"Tessera.Kernels.Compiler: {errors.Count} kernel(s) failed; no manifest written");
    return 1;
}
Console.WriteLine($"Tessera.Kernels.Compiler: {kernels.Count} kernels x {PtxCompiler.Targets.Length} architectures -> {outDir} in {sw.ElapsedMilliseconds} ms");
return 0;
