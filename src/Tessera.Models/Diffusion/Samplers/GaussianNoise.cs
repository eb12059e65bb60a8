namespace Tessera.Models.Diffusion.Samplers;

/// <summary>Seeded standard-normal noise: the same seed gives the same numbers on every machine and backend (drawn on
/// the host, then copied). xoshiro256** (Blackman and Vigna), seeded through SplitMix64, feeds the Box-Muller transform
/// in double precision; the algorithm is written out here rather than taken from System.Random, whose generator is not
/// promised to stay the same across .NET versions.</summary>
public sealed class GaussianNoise
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spare;
    private bool _hasSpare;

    /// <summary>A stream seeded by <paramref name="seed"/>.</summary>
    public GaussianNoise(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>The next standard-normal value.</summary>
    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }
        // u1 in (0, 1] so that the logarithm is finite; u2 in [0, 1).
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        double r = Math.Sqrt(-2 * Math.Log(u1)), a = 2 * Math.PI * u2;
        _spare = r * Math.Sin(a);
        _hasSpare = true;
        return r * Math.Cos(a);
    }

    /// <summary>Fills <paramref name="dst"/> with standard-normal values.</summary>
    public void Fill(Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)NextGaussian();
    }

    /// <summary>A new f32 tensor of <paramref name="shape"/> on <paramref name="backend"/> holding the next values in
    /// row-major order.</summary>
    public Tensor Next(IBackend backend, Shape shape)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var data = new float[shape.ElementCount];
        Fill(data);
        return Tensor.FromSpan<float>(backend, data, shape);
    }

    /// <summary>A uniform double in [0, 1) from the top 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
