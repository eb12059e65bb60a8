using Tessera.Cpu;
using Xunit.Abstractions;
namespace Tessera.Models.Tests;
public sealed class TmpTiming(ITestOutputHelper log)
{
    [Fact]
    public void Time()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 2));
        using var det = PpOcrDetector.Load(ModelFiles.Det, cpu);
        using var ort = new OrtOracle(ModelFiles.Det);
        var r = new Random(1);
        int[] dims = [1, 3, 640, 640];
        var x = new float[3 * 640 * 640];
        for (int i = 0; i < x.Length; i++) x[i] = (float)r.NextDouble();
        using var t = Tensor.FromArray(cpu, x, dims);
        for (int k = 0; k < 3; k++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using (var m = det.Forward(t)) { }
            double a = sw.Elapsed.TotalMilliseconds; sw.Restart();
            ort.Run(x, dims);
            log.WriteLine($"640x640: tessera {a:F0} ms, ort {sw.Elapsed.TotalMilliseconds:F0} ms");
        }
        using var cls = PpOcrClassifier.Load(ModelFiles.Cls, cpu);
        using var ortc = new OrtOracle(ModelFiles.Cls);
        int[] cd = [6, 3, 48, 192];
        var cx = new float[6 * 3 * 48 * 192];
        using var ct = Tensor.FromArray(cpu, cx, cd);
        for (int k = 0; k < 3; k++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using (var m = cls.Forward(ct)) { }
            double a = sw.Elapsed.TotalMilliseconds; sw.Restart();
            ortc.Run(cx, cd);
            log.WriteLine($"cls 6x48x192: tessera {a:F1} ms, ort {sw.Elapsed.TotalMilliseconds:F1} ms");
        }
    }
}
