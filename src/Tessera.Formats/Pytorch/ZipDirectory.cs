namespace Tessera.Formats.Pytorch;

/// <summary>One stored (uncompressed) member of a zip archive.</summary>
/// <param name="Name">The member's name as stored ("archive/data/0").</param>
/// <param name="DataOffset">Absolute file offset of the member's bytes (past its local header).</param>
/// <param name="Length">Bytes of data.</param>
internal sealed record ZipEntry(string Name, long DataOffset, long Length);

/// <summary>The central directory of a zip archive, read from a mapping, for the archives <c>torch.save</c> writes:
/// every member stored (method 0), unencrypted, on one disk, zip64 where the sizes need it. System.IO.Compression does
/// not expose a member's absolute data offset, and tensors must stay zero-copy views over the mapping, so the
/// directory is parsed here (a few fixed records). Every count, size and offset is checked against the file: members
/// that are compressed or encrypted, that run outside the file or into the directory, or that overlap, are refused.</summary>
internal static class ZipDirectory
{
    private const uint LocalHeaderSig = 0x04034b50, CentralSig = 0x02014b50, EndSig = 0x06054b50;
    private const uint Zip64EndSig = 0x06064b50, Zip64LocatorSig = 0x07064b50;
    private const int EndRecordBytes = 22, CentralHeaderBytes = 46, LocalHeaderBytes = 30;

    /// <summary>The most members accepted (a checkpoint has one per storage plus a few).</summary>
    public const int MaxEntries = 1 << 20;

    /// <summary>"PK\x03\x04", a local file header: the first bytes of a zip archive.</summary>
    public static bool HasZipMagic(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(head) == LocalHeaderSig;

    /// <summary>Reads the archive's members in directory order.</summary>
    public static List<ZipEntry> Read(MappedFile map)
    {
        string path = map.Path;
        long end = FindEndRecord(map);
        var c = map.Cursor(end + 4);
        ushort disk = c.U16("the disk number"), cdDisk = c.U16("the directory's disk");
        ulong count = c.U16("the entries on this disk");
        ulong total = c.U16("the entry count");
        ulong cdSize = c.U32("the directory size");
        ulong cdOffset = c.U32("the directory offset");
        if (count == 0xFFFF || total == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
            (disk, cdDisk, count, total, cdSize, cdOffset) = ReadZip64End(map, end);
        if (disk != 0 || cdDisk != 0 || count != total)
            throw new WeightFormatException(path, null, $"a multi-disk zip archive (disk {disk}, directory on disk {cdDisk}) is not supported");
        if (cdOffset > (ulong)end || cdSize > (ulong)end - cdOffset)
            throw new WeightFormatException(path, null, $"the zip directory [{cdOffset}, +{cdSize}) runs past its end record at {end}");
        if (total > cdSize / CentralHeaderBytes || total > MaxEntries)
            throw new WeightFormatException(path, null, $"{total} zip entries cannot fit in a directory of {cdSize} bytes (or exceed {MaxEntries})");

        var entries = new List<ZipEntry>((int)total);
        var names = new HashSet<string>(StringComparer.Ordinal);
        c = map.Cursor((long)cdOffset);
        long cdEnd = (long)(cdOffset + cdSize);
        for (ulong i = 0; i < total; i++)
        {
            var e = ReadCentral(map, ref c, cdEnd, (long)cdOffset);
            if (!names.Add(e.Name)) throw new WeightFormatException(path, null, $"duplicate zip entry '{e.Name}'");
            entries.Add(e);
        }
        CheckDisjoint(path, entries);
        return entries;
    }

    // The end record is the last 22 bytes unless the archive has a comment (up to 64 KiB): search back for it.
    private static long FindEndRecord(MappedFile map)
    {
        long last = map.Length - EndRecordBytes;
        long first = Math.Max(0, last - 0xFFFF);
        for (long p = last; p >= first; p--)
        {
            var c = map.Cursor(p);
            if (c.U32("the end record") != EndSig) continue;
            c.Position = p + 20;
            if (p + EndRecordBytes + c.U16("the comment length") == map.Length) return p;
        }
        throw new WeightFormatException(map.Path, null, "no zip end-of-central-directory record (a truncated or damaged archive)");
    }

    private static (ushort, ushort, ulong, ulong, ulong, ulong) ReadZip64End(MappedFile map, long end)
    {
        if (end < 20) throw new WeightFormatException(map.Path, null, "the zip end record asks for zip64, but there is no zip64 locator");
        var c = map.Cursor(end - 20);
        if (c.U32("the zip64 locator") != Zip64LocatorSig)
            throw new WeightFormatException(map.Path, null, "the zip end record asks for zip64, but there is no zip64 locator");
        c.U32("the zip64 record's disk");
        ulong at = c.U64("the zip64 record offset");
        if (at > (ulong)(end - 20)) throw new WeightFormatException(map.Path, null, $"the zip64 end record offset {at} lies past the locator at {end - 20}");
        c = map.Cursor((long)at);
        if (c.U32("the zip64 end record") != Zip64EndSig) throw new WeightFormatException(map.Path, null, $"no zip64 end record at offset {at}");
        c.U64("the zip64 record size");
        c.U16("the version made by");
        c.U16("the version needed");
        ushort disk = (ushort)Math.Min(c.U32("the disk number"), ushort.MaxValue);
        ushort cdDisk = (ushort)Math.Min(c.U32("the directory's disk"), ushort.MaxValue);
        return (disk, cdDisk, c.U64("the entries on this disk"), c.U64("the entry count"), c.U64("the directory size"), c.U64("the directory offset"));
    }

    private static ZipEntry ReadCentral(MappedFile map, ref ByteCursor c, long cdEnd, long cdOffset)
    {
        string path = map.Path;
        long at = c.Position;
        if (cdEnd - at < CentralHeaderBytes || c.U32("a directory entry") != CentralSig)
            throw new WeightFormatException(path, null, $"no zip directory entry at offset {at}");
        c.U16("the version made by");
        c.U16("the version needed");
        ushort flags = c.U16("the entry flags");
        ushort method = c.U16("the compression method");
        c.U32("the modification time");
        c.U32("the CRC");
        ulong packed = c.U32("the compressed size"), size = c.U32("the size");
        int nameLen = c.U16("the name length"), extraLen = c.U16("the extra length"), commentLen = c.U16("the comment length");
        c.U16("the start disk");
        c.U16("the internal attributes");
        c.U32("the external attributes");
        ulong local = c.U32("the local header offset");
        if (c.Position + nameLen + extraLen + commentLen > cdEnd)
            throw new WeightFormatException(path, null, $"the zip directory entry at {at} runs past the directory's end {cdEnd}");
        string name = System.Text.Encoding.UTF8.GetString(c.Bytes(nameLen, "an entry name"));
        var extra = c.Bytes(extraLen, "the extra fields");
        ReadZip64Extra(path, name, extra, ref size, ref packed, ref local);
        c.Bytes(commentLen, "an entry comment");

        if ((flags & 1) != 0) throw new WeightFormatException(path, null, $"zip entry '{name}' is encrypted");
        if (method != 0) throw new WeightFormatException(path, null, $"zip entry '{name}' is compressed (method {method}); torch.save stores its members uncompressed, and tensors are read in place");
        if (packed != size) throw new WeightFormatException(path, null, $"zip entry '{name}' is stored but its sizes differ ({packed} vs {size})");
        if (local > (ulong)cdOffset) throw new WeightFormatException(path, null, $"zip entry '{name}' starts at {local}, inside or past the directory at {cdOffset}");

        // The data follows the local header, whose name and extra lengths may differ from the directory's (torch pads
        // the local extra field so that storages start aligned).
        var l = map.Cursor((long)local);
        if (l.U32($"the local header of '{name}'") != LocalHeaderSig) throw new WeightFormatException(path, null, $"zip entry '{name}': no local header at offset {local}");
        l.Position = (long)local + 26;
        int localName = l.U16("the local name length"), localExtra = l.U16("the local extra length");
        if (!l.Bytes(localName, "the local name").SequenceEqual(System.Text.Encoding.UTF8.GetBytes(name)))
            throw new WeightFormatException(path, null, $"zip entry '{name}': its local header names another entry");
        long data = (long)local + LocalHeaderBytes + localName + localExtra;
        if (data > cdOffset || size > (ulong)(cdOffset - data))
            throw new WeightFormatException(path, null, $"zip entry '{name}': data [{data}, +{size}) runs into the directory at {cdOffset}");
        return new ZipEntry(name, data, (long)size);
    }

    // Zip64 extended information (header 0x0001): 8-byte values for exactly those fields whose 32-bit value is 0xFFFFFFFF,
    // in the order size, compressed size, local header offset.
    private static void ReadZip64Extra(string path, string name, ReadOnlySpan<byte> extra, ref ulong size, ref ulong packed, ref ulong local)
    {
        while (extra.Length >= 4)
        {
            ushort id = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int len = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (len > extra.Length - 4) throw new WeightFormatException(path, null, $"zip entry '{name}': an extra field runs past its entry");
            var body = extra.Slice(4, len);
            if (id == 1)
            {
                int k = 0;
                if (size == 0xFFFFFFFF) size = Zip64Value(path, name, body, ref k);
                if (packed == 0xFFFFFFFF) packed = Zip64Value(path, name, body, ref k);
                if (local == 0xFFFFFFFF) local = Zip64Value(path, name, body, ref k);
            }
            extra = extra[(4 + len)..];
        }
    }

    private static ulong Zip64Value(string path, string name, ReadOnlySpan<byte> body, ref int k)
    {
        if (k + 8 > body.Length) throw new WeightFormatException(path, null, $"zip entry '{name}': the zip64 extra field is too short");
        ulong v = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(body[k..]);
        k += 8;
        return v;
    }

    private static void CheckDisjoint(string path, List<ZipEntry> entries)
    {
        ZipEntry? prev = null;
        foreach (var e in entries.Where(e => e.Length > 0).OrderBy(e => e.DataOffset))
        {
            if (prev != null && e.DataOffset < prev.DataOffset + prev.Length)
                throw new WeightFormatException(path, null, $"zip entries '{prev.Name}' and '{e.Name}' overlap");
            prev = e;
        }
    }
}
