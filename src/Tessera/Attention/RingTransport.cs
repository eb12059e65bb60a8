using System.Threading.Channels;

namespace Tessera.Attention;

/// <summary>A K/V block travelling around the ring: K and V [B, Hkv, S_block, D] on the holder's device, and the
/// global key position of its first token. The receiver owns (and disposes) what it receives.</summary>
public sealed class KvBlock(Tensor k, Tensor v, int start) : IDisposable
{
    /// <summary>Keys [B, Hkv, S_block, D].</summary>
    public Tensor K { get; } = k;

    /// <summary>Values [B, Hkv, S_block, D].</summary>
    public Tensor V { get; } = v;

    /// <summary>Global position of the block's first key.</summary>
    public int Start { get; } = start;

    /// <summary>Tokens in the block.</summary>
    public int Length => K.Dim(2);

    /// <summary>Disposes K and V.</summary>
    public void Dispose() { K.Dispose(); V.Dispose(); }
}

/// <summary>How one rank of a ring passes K/V blocks: to the next rank, from the previous one. Both calls are
/// asynchronous so that a transfer overlaps the attention on the block in hand. Implementations: in-process
/// devices (<see cref="InProcessRing"/>); NCCL send/recv for several GPUs or machines can come behind the same
/// interface.</summary>
public interface IRingTransport
{
    /// <summary>This rank, 0..Size-1.</summary>
    int Rank { get; }

    /// <summary>Ranks in the ring.</summary>
    int Size { get; }

    /// <summary>The device this rank computes on (received blocks arrive there).</summary>
    IBackend Device { get; }

    /// <summary>Sends a copy of a block to rank (Rank + 1) % Size; the caller keeps its block.</summary>
    ValueTask SendAsync(KvBlock block, CancellationToken cancellationToken = default);

    /// <summary>Receives the next block from rank (Rank - 1 + Size) % Size, on this rank's device.</summary>
    ValueTask<KvBlock> ReceiveAsync(CancellationToken cancellationToken = default);
}

/// <summary>A ring of devices in one process: an unbounded channel into each rank; a send copies the block onto the
/// next rank's device (<see cref="Tensor.ToBackend"/>; a device that is the same backend object shares it) on the
/// thread pool, so the sender's compute continues meanwhile.</summary>
public static class InProcessRing
{
    /// <summary>One transport per device, rank i on devices[i].</summary>
    public static IRingTransport[] Create(IReadOnlyList<IBackend> devices)
    {
        if (devices.Count == 0) throw new TesseraException("a ring needs at least one device");
        var inboxes = new Channel<KvBlock>[devices.Count];
        for (int i = 0; i < inboxes.Length; i++) inboxes[i] = Channel.CreateUnbounded<KvBlock>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var t = new IRingTransport[devices.Count];
        for (int i = 0; i < t.Length; i++) t[i] = new RankTransport(i, devices, inboxes);
        return t;
    }

    private sealed class RankTransport(int rank, IReadOnlyList<IBackend> devices, Channel<KvBlock>[] inboxes) : IRingTransport
    {
        public int Rank => rank;
        public int Size => devices.Count;
        public IBackend Device => devices[rank];

        public async ValueTask SendAsync(KvBlock block, CancellationToken cancellationToken = default)
        {
            int next = (rank + 1) % devices.Count;
            var copy = await Task.Run(() => new KvBlock(block.K.ToBackend(devices[next]), block.V.ToBackend(devices[next]), block.Start), cancellationToken)
                .ConfigureAwait(false);
            await inboxes[next].Writer.WriteAsync(copy, cancellationToken).ConfigureAwait(false);
        }

        public ValueTask<KvBlock> ReceiveAsync(CancellationToken cancellationToken = default) => inboxes[rank].Reader.ReadAsync(cancellationToken);
    }
}
