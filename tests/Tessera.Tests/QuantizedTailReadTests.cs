using System.Runtime.InteropServices;
using Tessera.Cpu;
using Tessera.Quant;

namespace Tessera.Tests;

/// <summary>The AVX-512 Q4_0/Q8_0 kernels read a block pair as one 64-byte load, which for Q4_0 (36-byte pairs) runs
/// past the pair: at the end of a weight they must read masked. Here the weight's last byte is the last byte before a
/// PROT_NONE page (as a memory-mapped file's last tensor can be), so a read past it crashes the test process; the
/// products must equal bit for bit those of the same weight in ordinary memory, for decode (1 row), GEMM (8 and 4
/// rows) and odd block counts.</summary>
public unsafe class QuantizedTailReadTests
{
    [SkippableTheory]
    [InlineData("q4_0", 768, 8)]
    [InlineData("q4_0", 96, 5)]
    [InlineData("q4_0", 32, 4)]
    [InlineData("q8_0", 96, 7)]
    [InlineData("q8_0", 64, 4)]
    public void A_weight_ending_at_an_unmapped_page_is_read_in_bounds(string type, int k, int n)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "needs mmap and mprotect");
        var dt = DTypeInfo.Parse(type);
        var rng = new Random(5);
        var wf = Enumerable.Range(0, n * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var bytes = new byte[dt.ByteCount((long)n * k)];
        BlockQuant.Quantize(dt, wf, bytes);
        using var cpu = new CpuBackend(new CpuBackendOptions(Threads: 1));

        long page = Environment.SystemPageSize, span = (bytes.Length + page - 1) / page * page;
        nint map = Mmap(0, (nuint)(span + page), 3 /* read, write */, 0x22 /* private, anonymous */, -1, 0);
        Assert.NotEqual(-1, map);
        try
        {
            Assert.Equal(0, Mprotect(map + (nint)span, (nuint)page, 0));
            byte* at = (byte*)map + span - bytes.Length;
            bytes.CopyTo(new Span<byte>(at, bytes.Length));
            using var guarded = Tensor.FromStorage(HostStorage.Borrow(cpu, at, bytes.Length, null), dt, new Shape(n, k));
            using var raw = Tensor.FromArray(cpu, bytes, bytes.Length);
            using var plain = Tensor.FromStorage(raw.Storage, dt, new Shape(n, k));
            foreach (int m in new[] { 1, 3, 4, 8, 13 })
            {
                var x = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                using var xt = Tensor.FromArray(cpu, x, m, k);
                using var yg = xt.Linear(guarded);
                using var yp = xt.Linear(plain);
                var g = yg.ToArray<float>();
                var p = yp.ToArray<float>();
                for (int i = 0; i < g.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(g[i]) == BitConverter.SingleToInt32Bits(p[i]),
                        $"{type} [{n}, {k}] x [{m}, {k}]: output {i} is {g[i]:R} at the page end, {p[i]:R} in ordinary memory");
            }
        }
        finally { Munmap(map, (nuint)(span + page)); }
    }

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static extern int Mprotect(nint addr, nuint length, int prot);

    [DllImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static extern int Munmap(nint addr, nuint length);
}
