using System.Numerics.Tensors;

namespace Tessera.Cpu.Attention;

/// <summary>K and V rows stored as f16 (a half-precision KV cache, as llama.cpp keeps by default), read in place: each
/// row asked for is widened into one slot of a small per-thread ring and that slot is returned, so both attention
/// kernels run unchanged on f32 rows. f16 -> f32 is exact, so the result is bit for bit attention over an f32 copy of
/// the cache (and the decode path stays bit-compatible with the tiled one), while the cache holds, and every step
/// reads, half the bytes; converting the whole cache to f32 on every call (what an f16 cache cost before) reads it
/// once and writes it twice. The kernels hold at most <see cref="Slots"/> rows at once (8 keys being transposed, 4
/// value rows being accumulated).</summary>
internal abstract unsafe class HalfKvRows(int d) : KvRows
{
    /// <summary>Rows a caller may hold at once before the first one is overwritten.</summary>
    public const int Slots = 16;

    [ThreadStatic] private static float[]? t_ring;
    [ThreadStatic] private static int t_next;

    /// <inheritdoc/>
    public sealed override long KStrideD => 1;

    /// <inheritdoc/>
    public sealed override long VStrideD => 1;

    /// <summary>Key row j of the unit's kv head, in the cache.</summary>
    protected abstract Half* KHalf(in AttnUnit u, int j);

    /// <summary>Value row j of the unit's kv head, in the cache.</summary>
    protected abstract Half* VHalf(in AttnUnit u, int j);

    /// <inheritdoc/>
    public sealed override float* K(in AttnUnit u, int j) => Widen(KHalf(u, j));

    /// <inheritdoc/>
    public sealed override float* V(in AttnUnit u, int j) => Widen(VHalf(u, j));

    /// <inheritdoc/>
    public sealed override void Prefetch(in AttnUnit u, int j, int count, bool key, int d)
    {
        for (int r = j; r < j + count; r++) PrefetchLines(key ? KHalf(u, r) : VHalf(u, r), (long)d * sizeof(ushort));
    }

    private float* Widen(Half* row)
    {
        int stride = (d + 15) & ~15; // 64-byte slots
        var ring = t_ring;
        if (ring is null || ring.Length < Slots * stride + 16)
            t_ring = ring = GC.AllocateUninitializedArray<float>(Slots * stride + 16, pinned: true);
        int slot = t_next;
        t_next = (slot + 1) & (Slots - 1);
        // The pinned array never moves; align the slot to 64 bytes from its first element.
        fixed (float* p0 = ring)
        {
            float* p = (float*)(((nint)p0 + 63) & ~(nint)63) + slot * stride;
            TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(row, d), new Span<float>(p, d));
            return p;
        }
    }
}
