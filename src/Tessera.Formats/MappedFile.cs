using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Tessera.Formats;

/// <summary>A whole file mapped copy-on-write, reference counted: the weight source holds one reference and every
/// zero-copy tensor's storage holds one (through <see cref="Lease"/>), so the mapping outlives whichever goes last.
/// Copy-on-write rather than read-only so that a tensor written in place changes private pages, not the file, and
/// never faults.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private int _refs = 1;
    private int _disposed;

    private MappedFile(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, byte* pointer, long length)
    {
        Path = path;
        _file = file;
        _view = view;
        Pointer = pointer;
        Length = length;
    }

    public string Path { get; }

    /// <summary>Start of the file's bytes.</summary>
    public byte* Pointer { get; }

    /// <summary>File size in bytes.</summary>
    public long Length { get; }

    /// <summary>Maps <paramref name="path"/>; an empty file is a format error (there is nothing to map).</summary>
    public static MappedFile Open(string path)
    {
        long length = new FileInfo(path).Length; // FileNotFoundException for a missing file: not a format problem
        if (length == 0) throw new WeightFormatException(path, null, "the file is empty");
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.CopyOnWrite);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = file.CreateViewAccessor(0, length, MemoryMappedFileAccess.CopyOnWrite);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            return new MappedFile(path, file, view, p + view.PointerOffset, length);
        }
        catch
        {
            view?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>A bounds-checked reader from <paramref name="offset"/>.</summary>
    public ByteCursor Cursor(long offset = 0) => new(this, offset);

    /// <summary>Takes a reference for a borrowed storage; disposing the lease (once) gives it back.</summary>
    public IDisposable Lease()
    {
        int r;
        do
        {
            r = Volatile.Read(ref _refs);
            if (r <= 0) throw new ObjectDisposedException(Path, "the weight file was closed");
        } while (Interlocked.CompareExchange(ref _refs, r + 1, r) != r);
        return new LeaseHandle(this);
    }

    /// <summary>Whether <see cref="ReleaseResidency"/> works here: Linux, with libc's madvise found.</summary>
    public static bool CanReleaseResidency => Madvise.Function != null;

    /// <summary>Drops the whole pages inside [<paramref name="start"/>, + <paramref name="length"/>) (which must lie in
    /// this file's mapping) from the resident set: madvise(MADV_PAGEOUT). Clean file pages are dropped and read back
    /// from the file when touched; pages a write made private are swapped out or kept, never lost: the contents do not
    /// change. Best effort: false where nothing was released (not Linux, no whole page in the range, a kernel before
    /// 5.4 without MADV_PAGEOUT).</summary>
    public bool ReleaseResidency(byte* start, long length)
    {
        if (start < Pointer || length < 0 || start + length > Pointer + Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"bytes [{(long)(start - Pointer)}, +{length}) are outside the mapping of {Path} ({Length} bytes)");
        var madvise = Madvise.Function;
        if (madvise == null) return false;
        long page = Environment.SystemPageSize;
        long begin = ((long)start + page - 1) & ~(page - 1), end = ((long)start + length) & ~(page - 1);
        return end > begin && madvise((void*)begin, (nuint)(end - begin), Madvise.PageOut) == 0;
    }

    /// <summary>libc's madvise, bound on first use (null off Linux or where libc lacks it).</summary>
    private static class Madvise
    {
        public const int PageOut = 21; // MADV_PAGEOUT, Linux 5.4
        public static readonly delegate* unmanaged<void*, nuint, int, int> Function = Bind();

        private static delegate* unmanaged<void*, nuint, int, int> Bind()
        {
            if (!OperatingSystem.IsLinux()) return null;
            foreach (var name in (ReadOnlySpan<string>)["libc.so.6", "libc"])
                if (NativeLibrary.TryLoad(name, out var lib) && NativeLibrary.TryGetExport(lib, "madvise", out var f))
                    return (delegate* unmanaged<void*, nuint, int, int>)f;
            return null;
        }
    }

    /// <summary>Gives back the opener's reference.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) Release();
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    /// <summary>A storage's reference; as its owner it also lets the storage release its pages' residency.</summary>
    private sealed class LeaseHandle(MappedFile file) : IDisposable, IReleasableMemory
    {
        private int _done;

        public bool CanRelease => CanReleaseResidency;

        public bool Release(void* start, long length) => Volatile.Read(ref _done) == 0 && file.ReleaseResidency((byte*)start, length);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) file.Release();
        }
    }
}

/// <summary>Little-endian reads from a mapped file that never step outside it: every read checks the bytes left and
/// throws <see cref="WeightFormatException"/> ("truncated") instead.</summary>
internal unsafe struct ByteCursor(MappedFile file, long position)
{
    public long Position = position;

    public readonly long Remaining => file.Length - Position;

    public readonly string Path => file.Path;

    private byte* Take(long n, string what)
    {
        if (n < 0 || n > Remaining)
            throw new WeightFormatException(file.Path, null, $"truncated: {what} needs {n} bytes at offset {Position}, the file has {Math.Max(0, Remaining)} left");
        byte* p = file.Pointer + Position;
        Position += n;
        return p;
    }

    public byte U8(string what) => *Take(1, what);
    public ushort U16(string what) => System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(Take(2, what), 2));
    public uint U32(string what) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Take(4, what), 4));
    public ulong U64(string what) => System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(Take(8, what), 8));

    /// <summary>The next <paramref name="n"/> bytes (at most 2 GB, checked against the file first).</summary>
    public ReadOnlySpan<byte> Bytes(long n, string what)
    {
        if (n > int.MaxValue) throw new WeightFormatException(file.Path, null, $"{what} claims {n} bytes, more than 2 GB");
        return new ReadOnlySpan<byte>(Take(n, what), (int)n);
    }
}
