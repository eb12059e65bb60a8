using System.Diagnostics;
using System.Text.Json;
using Tessera.Cpu;
using Tessera.Formats;
using Tessera.Formats.Safetensors;

namespace Tessera.Models.Tests.Nn;

/// <summary>Builds a set of layer cases (random weights under published names, inputs, a JSON spec each), runs
/// nn_reference.py once over all of them with Debian's PyTorch (/usr/bin/python3), and hands back the expected
/// outputs. A test class makes one of these in its fixture, so there is one Python process per class. Where PyTorch is
/// absent the inputs are still written (the tests that need no reference run) and the others skip, naming the reason.</summary>
public sealed class TorchReference : IDisposable
{
    // Debian's interpreter, where python3-torch lives (not a pyenv python3 on the PATH); TESSERA_TORCH_PYTHON overrides it.
    private static readonly string Python = Environment.GetEnvironmentVariable("TESSERA_TORCH_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";
    private static readonly Lazy<string?> s_unavailable = new(Probe);
    private readonly List<WeightTensor> _tensors = [];
    private readonly Dictionary<string, string> _specs = [];
    private readonly Dictionary<string, (float[] Values, int[] Shape)> _expected = [];
    private readonly Random _rng;

    /// <summary>Where the inputs and the outputs are written.</summary>
    public string Dir { get; } = Directory.CreateTempSubdirectory("tessera-nn-").FullName;

    /// <summary>The safetensors file holding every case's weights and inputs ("case.name").</summary>
    public string InputPath => Path.Combine(Dir, "in.safetensors");

    /// <summary>Why the reference cannot run here, or null when it can.</summary>
    public static string? Unavailable => s_unavailable.Value;

    /// <summary>The CPU backend the tests run on.</summary>
    public CpuBackend Cpu { get; } = new(new CpuBackendOptions(Threads: 2));

    private readonly string _script;

    /// <summary>A reference seeded by <paramref name="seed"/>, run by <paramref name="script"/> (relative to
    /// tests/Tessera.Models.Tests; other scripts import nn_reference.py's reader, writer and case loop).</summary>
    public TorchReference(int seed, string script = "Nn/nn_reference.py")
    {
        _rng = new Random(seed);
        _script = script;
    }

    /// <summary>Adds uniform random values in [-scale, scale] and returns them.</summary>
    public float[] Random(string name, float scale, params int[] shape)
    {
        var v = new float[shape.Aggregate(1, (a, d) => a * d)];
        for (int i = 0; i < v.Length; i++) v[i] = (float)((_rng.NextDouble() * 2 - 1) * scale);
        Add(name, v, shape);
        return v;
    }

    /// <summary>Adds f32 values.</summary>
    public void Add(string name, float[] values, params int[] shape) =>
        _tensors.Add(WeightTensor.FromValues(name, shape.Select(d => (long)d).ToArray(), values));

    /// <summary>Adds i32 values (ids, positions).</summary>
    public void AddInts(string name, int[] values, params int[] shape) =>
        _tensors.Add(WeightTensor.FromValues(name, shape.Select(d => (long)d).ToArray(), values));

    /// <summary>Declares a case: its tensors are named "<paramref name="name"/>.*"; <paramref name="spec"/> is
    /// serialised to the JSON the script reads (it must have a "kind").</summary>
    public void Case(string name, Dictionary<string, object> spec) => _specs[name] = JsonSerializer.Serialize(spec);

    /// <summary>Writes the inputs and runs the script; afterwards <see cref="Expected"/> reads its outputs. Does
    /// nothing when PyTorch is unavailable (the tests skip).</summary>
    public void Run()
    {
        SafetensorsWriter.Write(InputPath, _tensors, _specs);
        if (Unavailable is not null) return;
        string output = Path.Combine(Dir, "out.safetensors");
        var (code, text) = RunPython(Script, InputPath, output);
        if (code != 0) throw new InvalidOperationException($"{_script} failed ({code}):\n{text}");
        using var f = SafetensorsFile.Open(output);
        foreach (var n in f.Names)
        {
            using var t = f.Load(n, Cpu);
            _expected[n] = (t.ToFloatArray(), t.Shape.Dims.ToArray());
        }
    }

    /// <summary>The reference output "case.output" and its shape.</summary>
    public (float[] Values, int[] Shape) Expected(string name) =>
        _expected.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"the reference wrote no '{name}'");

    /// <summary>A weight builder over the inputs, prefixed with the case name (dispose it).</summary>
    public WeightBuilder Builder() => WeightBuilder.Open(Cpu, InputPath);

    public void Dispose()
    {
        Cpu.Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string Script
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                string p = Path.Combine(d.FullName, "tests", "Tessera.Models.Tests", _script);
                if (File.Exists(p)) return p;
            }
            throw new FileNotFoundException($"tests/Tessera.Models.Tests/{_script} not found above " + AppContext.BaseDirectory);
        }
    }

    private static string? Probe()
    {
        if (!File.Exists(Python)) return $"{Python} is absent (the Nn references need Debian's python3-torch and python3-numpy)";
        try
        {
            var (code, text) = RunPython("-c", "import torch, numpy");
            return code == 0 ? null : $"{Python} cannot import torch and numpy (apt-get install python3-torch python3-numpy): {text.Trim()}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"{Python} could not be started: {e.Message}";
        }
    }

    private static (int Code, string Output) RunPython(params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = "1"; // the machine is shared; the cases are tiny
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}
