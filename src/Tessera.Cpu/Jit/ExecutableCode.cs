
namespace Tessera.Cpu.Jit;

/// <summary>Machine code copied into pages of its own and made executable: mapped read-write, written, then switched to
/// read-execute (never writable and executable at once, so W^X policies allow it). <see cref="TryCreate"/> returns null
/// with a reason where the OS refuses (SELinux execmem, a hardened W^X policy), never throws for that. The emitted
/// kernels keep theirs for the process; <see cref="Dispose"/> unmaps (the caller guarantees nothing runs it any more).</summary>
internal sealed unsafe class ExecutableCode : IDisposable
{
    private nint _pages;
    private readonly nuint _mapped;

    /// <summary>The first byte of the code (where it is called).</summary>
    public nint Entry => _pages != 0 ? _pages : throw new ObjectDisposedException(nameof(ExecutableCode));

    /// <summary>Bytes of code.</summary>
    public int Length { get; }

    private ExecutableCode(nint pages, nuint mapped, int length)
    {
        _pages = pages; _mapped = mapped; Length = length;
    }

    /// <summary>Copies <paramref name="code"/> into new executable pages; null (and why) where this platform or its
    /// policy gives none.</summary>
    public static ExecutableCode? TryCreate(ReadOnlySpan<byte> code, out string? reason)
    {
        if (code.IsEmpty) throw new ArgumentException("no code to map", nameof(code));
        nuint page = (nuint)Environment.SystemPageSize, size = ((nuint)code.Length + page - 1) / page * page;
        nint pages = ExecutablePages.MapWritable(size, out reason);
        if (pages == 0) return null;
        code.CopyTo(new Span<byte>((void*)pages, code.Length));
        if (!ExecutablePages.MakeExecutable(pages, size, out reason))
        {
            ExecutablePages.Unmap(pages, size);
            return null;
        }
        return new ExecutableCode(pages, size, code.Length);
    }

    /// <summary>Unmaps the pages.</summary>
    public void Dispose()
    {
        nint p = Interlocked.Exchange(ref _pages, 0);
        if (p != 0) ExecutablePages.Unmap(p, _mapped);
    }
}
