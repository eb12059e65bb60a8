using System.Text;
using Iced.Intel;

namespace Tessera.Cpu.Jit;

/// <summary>Emitted code as Intel-syntax assembly (Iced's formatter), one instruction a line with its offset: what the
/// tests print, and what a note quotes.</summary>
internal static class JitDisassembly
{
    public static string Format(byte[] code)
    {
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code), 0);
        var formatter = new IntelFormatter();
        formatter.Options.FirstOperandCharIndex = 10;
        var output = new StringOutput();
        var text = new StringBuilder();
        while (decoder.IP < (ulong)code.Length)
        {
            decoder.Decode(out var instruction);
            formatter.Format(instruction, output);
            text.Append(instruction.IP.ToString("X4")).Append("  ").AppendLine(output.ToStringAndReset());
        }
        return text.ToString();
    }
}
