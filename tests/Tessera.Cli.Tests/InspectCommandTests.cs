using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Tessera.Cli.Tests;

/// <summary><c>tessera inspect</c> on PyTorch checkpoints as a user runs it: a real .pth lists its tensors (text and
/// --json), and a .pth whose pickle would call a function is refused with a message naming it, nothing run.</summary>
public class InspectCommandTests
{
    private static string SharedModel(string relative) => Path.GetFullPath(Path.Combine(TesseraProcess.RepoRoot, "..", "shared", "models", relative));

    [SkippableFact]
    public void A_real_pth_lists_its_tensors()
    {
        string path = SharedModel("vision/vit-mnist/mnist_vit.pth");
        Skip.IfNot(File.Exists(path), $"{path} is absent (the shared models folder sits beside the repository in CI)");
        var r = TesseraProcess.Run("inspect", path, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal("pth", doc.RootElement.GetProperty("format").GetString());
        var tensors = doc.RootElement.GetProperty("tensors").EnumerateArray().ToArray();
        Assert.Equal(19, tensors.Length);
        var patch = tensors.Single(t => t.GetProperty("name").GetString() == "patch_embed.proj.weight");
        Assert.Equal([32, 49], patch.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray());
        var text = TesseraProcess.Run("inspect", path);
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("patch_embed.proj.weight", text.Stdout);
    }

    [Fact]
    public void A_pth_whose_pickle_calls_a_function_is_refused()
    {
        string dir = Directory.CreateTempSubdirectory("tessera-inspect-").FullName;
        string marker = Path.Combine(dir, "pwned");
        try
        {
            // protocol 2: GLOBAL posix.system, the shell command as a 1-tuple, REDUCE, STOP -- what pickle writes for an
            // object whose __reduce__ returns (os.system, (cmd,)).
            var cmd = Encoding.ASCII.GetBytes($"touch {marker}");
            var pkl = new List<byte> { 0x80, 0x02, (byte)'c' };
            pkl.AddRange("posix\nsystem\n"u8.ToArray());
            pkl.Add((byte)'X');
            pkl.AddRange(BitConverter.GetBytes(cmd.Length));
            pkl.AddRange(cmd);
            pkl.AddRange([0x85, (byte)'R', (byte)'.']);
            string path = Path.Combine(dir, "evil.pth");
            using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
            {
                foreach (var (name, bytes) in new[] { ("evil/data.pkl", pkl.ToArray()), ("evil/version", "3\n"u8.ToArray()) })
                {
                    using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                    s.Write(bytes);
                }
            }
            var r = TesseraProcess.Run("inspect", path);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains("posix.system", r.Stderr);
            Assert.Equal("", r.Stdout.Trim());
            Assert.False(File.Exists(marker), "the pickle's command ran");
        }
        finally { Directory.Delete(dir, true); }
    }
}
