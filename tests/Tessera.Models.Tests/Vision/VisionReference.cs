using System.Diagnostics;
using Tessera.Cpu;
using Tessera.Formats.Safetensors;
using Tessera.Models.Tests.Nn;

namespace Tessera.Models.Tests.Vision;

/// <summary>The vision tests' fixture: writes the random checkpoints of <see cref="VisionCases"/> (each in its own
/// directory, as published), runs vision_reference.py (PyTorch, float64, written from the papers and transformers'
/// modeling code) once over all of them, and hands back its outputs. Where PyTorch is absent the checkpoints are still
/// written and the tests that need the reference skip, naming the reason.</summary>
public sealed class VisionReference : IDisposable
{
    private static readonly string Python = "/usr/bin/python3";
    private readonly Dictionary<string, Dictionary<string, (float[] Values, int[] Shape)>> _outputs = [];

    /// <summary>Where the checkpoints live.</summary>
    public string Root { get; } = Directory.CreateTempSubdirectory("tessera-vision-").FullName;

    /// <summary>The CPU backend the tests run on.</summary>
    public CpuBackend Cpu { get; } = new(new CpuBackendOptions(Threads: 2));

    /// <summary>Why the reference cannot run here, or null.</summary>
    public static string? Unavailable => TorchReference.Unavailable;

    /// <summary>The cases: "vit", "clip" (legacy end-of-text rule), "clip_eos" (eos_token_id rule), "siglip", "deit"
    /// (DeiTForImageClassificationWithTeacher).</summary>
    public static readonly string[] Cases = ["vit", "clip", "clip_eos", "siglip", "deit"];

    public VisionReference()
    {
        Write("vit", 1, "vit", -2, c => VisionCases.Vit(c));
        Write("clip", 2, "clip", -2, c => VisionCases.Clip(c, eos: 2));
        Write("clip_eos", 3, "clip", 1, c => VisionCases.Clip(c, eos: VisionCases.Vocab - 2));
        Write("siglip", 4, "siglip", 1, VisionCases.Siglip);
        Write("deit", 5, "deit", -2, c => VisionCases.Deit(c));
        if (Unavailable is not null) return;
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Script);
        foreach (var c in Cases) psi.ArgumentList.Add(Dir(c));
        psi.Environment["OMP_NUM_THREADS"] = "1";
        psi.Environment.Remove("PYTHONPATH");
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"vision_reference.py failed ({p.ExitCode}):\n{output}{err.Result}");
        foreach (var c in Cases)
        {
            using var f = SafetensorsFile.Open(Path.Combine(Dir(c), "outputs.safetensors"));
            _outputs[c] = f.Names.ToDictionary(n => n, n => { using var t = f.Load(n, Cpu); return (t.ToFloatArray(), t.Shape.Dims.ToArray()); });
        }
    }

    /// <summary>A case's model directory.</summary>
    public string Dir(string name) => Path.Combine(Root, name);

    /// <summary>The reference's output of a case.</summary>
    public (float[] Values, int[] Shape) Expected(string name, string output) =>
        _outputs[name].TryGetValue(output, out var e) ? e : throw new KeyNotFoundException($"the reference wrote no '{output}' for {name}");

    /// <summary>An input of a case (pixel_values, pixel_values_alt, input_ids) on the test backend.</summary>
    public Tensor Input(string name, string input)
    {
        using var f = SafetensorsFile.Open(Path.Combine(Dir(name), "inputs.safetensors"));
        using var t = f.Load(input, Cpu);
        return t.Contiguous();
    }

    public void Dispose()
    {
        Cpu.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private void Write(string name, int seed, string kind, int layer, Func<RandomCheckpoint, Dictionary<string, object>> build)
    {
        var c = new RandomCheckpoint(Dir(name), seed);
        c.Write(build(c), kind, layer);
    }

    private static string Script
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                string p = Path.Combine(d.FullName, "tests", "Tessera.Models.Tests", "Vision", "vision_reference.py");
                if (File.Exists(p)) return p;
            }
            throw new FileNotFoundException("tests/Tessera.Models.Tests/Vision/vision_reference.py not found above " + AppContext.BaseDirectory);
        }
    }
}
