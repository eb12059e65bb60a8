namespace Tessera.Formats;

/// <summary>Turns a validated <see cref="TensorInfo"/> over a mapping into a tensor.</summary>
internal static unsafe class WeightLoading
{
    /// <summary>Zero-copy on a CPU backend (a borrowed <see cref="HostStorage"/> whose owner is a lease on the mapping);
    /// a device copy elsewhere.</summary>
    public static Tensor Load(MappedFile map, TensorInfo info, IBackend backend)
    {
        var dtype = info.DType ?? throw new WeightFormatException(info.File, info.Name, $"element type {info.TypeName} is not supported by Tessera (it can be inspected, not loaded)");
        var shape = info.ToShape();
        long need = dtype.ByteCount(shape.ElementCount);
        // Checked when the file was opened; kept as the last line of defence before a raw pointer is handed out.
        if (need != info.ByteLength || info.Offset < 0 || info.Offset > map.Length - info.ByteLength)
            throw new WeightFormatException(info.File, info.Name, $"data [{info.Offset}, +{info.ByteLength}) does not fit {dtype.Name()} {shape} in a file of {map.Length} bytes");

        if (backend.Device.Kind == DeviceKind.Cpu)
        {
            var lease = map.Lease();
            HostStorage storage;
            try { storage = HostStorage.Borrow(backend, map.Pointer + info.Offset, info.ByteLength, lease); }
            catch { lease.Dispose(); throw; }
            storage.MarkConstant();
            var t = Tensor.FromStorage(storage, dtype, shape);
            storage.Release(); // the tensor holds the only reference now
            return t;
        }

        var dst = Tensor.Zeros(backend, dtype, shape);
        try
        {
            const int chunk = 1 << 30;
            for (long done = 0; done < info.ByteLength; done += chunk)
            {
                int n = (int)Math.Min(chunk, info.ByteLength - done);
                backend.CopyFromHost(new ReadOnlySpan<byte>(map.Pointer + info.Offset + done, n), dst.Storage, done);
            }
            return dst;
        }
        catch { dst.Dispose(); throw; }
    }

    /// <summary>Checks that the tensors' byte ranges lie inside [<paramref name="begin"/>, <paramref name="end"/>) and
    /// do not overlap (zero-length tensors excepted).</summary>
    public static void CheckRanges(string file, IEnumerable<TensorInfo> infos, long begin, long end)
    {
        var sorted = infos.Where(i => i.ByteLength > 0).OrderBy(i => i.Offset).ToList();
        TensorInfo? prev = null;
        foreach (var t in sorted)
        {
            if (t.Offset < begin || t.Offset > end - t.ByteLength)
                throw new WeightFormatException(file, t.Name, $"data [{t.Offset}, {t.Offset + t.ByteLength}) lies outside the data section [{begin}, {end})");
            if (prev != null && t.Offset < prev.Offset + prev.ByteLength)
                throw new WeightFormatException(file, t.Name, $"data [{t.Offset}, {t.Offset + t.ByteLength}) overlaps tensor '{prev.Name}' [{prev.Offset}, {prev.Offset + prev.ByteLength})");
            prev = t;
        }
    }

    /// <summary>Product of the dims, refusing negative dims and overflow.</summary>
    public static long ElementCount(string file, string tensor, ReadOnlySpan<long> dims)
    {
        long n = 1;
        foreach (long d in dims)
        {
            if (d < 0) throw new WeightFormatException(file, tensor, $"negative dimension {d}");
            if (d != 0 && n > long.MaxValue / d) throw new WeightFormatException(file, tensor, $"the product of the dimensions [{string.Join(", ", dims.ToArray())}] overflows 64 bits");
            n *= d;
        }
        return n;
    }
}
