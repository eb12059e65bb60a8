using Tessera.Models.Diffusion.Samplers;

namespace Tessera.Models.Tests.Diffusion;

/// <summary>The sampler list by name: each name the command line takes makes the sampler it says (whose
/// closed-form tests are SamplerConvergenceTests, SamplerDistributionTests and LearnedVarianceTests), "dpmpp_2m_karras"
/// asks for Karras sigmas, the spellings with '-' work, DDIM's η and the ancestral samplers' noise fraction are passed on,
/// and an unknown name is refused listing the valid ones.</summary>
public sealed class SamplerCatalogTests
{
    [Fact]
    public void EveryNameMakesTheSamplerItSays()
    {
        var expected = new Dictionary<string, (Type Type, bool Karras, bool Stochastic)>
        {
            ["ddpm"] = (typeof(DdpmSampler), false, true),
            ["ddim"] = (typeof(AncestralSampler), false, false),
            ["euler"] = (typeof(EulerSampler), false, false),
            ["euler_a"] = (typeof(AncestralSampler), false, true),
            ["heun"] = (typeof(HeunSampler), false, false),
            ["dpmpp_2m"] = (typeof(DpmPp2MSampler), false, false),
            ["dpmpp_2m_karras"] = (typeof(DpmPp2MSampler), true, false),
            ["dpmpp_2s_a"] = (typeof(DpmPp2SAncestralSampler), false, true),
            ["lcm"] = (typeof(LcmSampler), false, true),
            ["flow_euler"] = (typeof(EulerSampler), false, false),
        };
        Assert.Equal(expected.Keys, SamplerCatalog.Names);
        foreach (var (name, (type, karras, stochastic)) in expected)
        {
            var choice = SamplerCatalog.Create(name);
            Assert.IsType(type, choice.Sampler);
            Assert.Equal(karras, choice.KarrasSigmas);
            Assert.Equal(stochastic, choice.Sampler.IsStochastic);
            var dashed = SamplerCatalog.Create(name.Replace('_', '-').ToUpperInvariant());
            Assert.IsType(type, dashed.Sampler);
        }
        Assert.Equal(0.3, Assert.IsType<AncestralSampler>(SamplerCatalog.Create("ddim", 0.3).Sampler).Eta);
        Assert.Equal(1, Assert.IsType<AncestralSampler>(SamplerCatalog.Create("euler_a").Sampler).Eta);
        Assert.Equal(0.5, Assert.IsType<DpmPp2SAncestralSampler>(SamplerCatalog.Create("dpmpp-2s-ancestral", 0.5).Sampler).Eta);
        Assert.True(Assert.IsType<DdpmSampler>(SamplerCatalog.Create("ddpm").Sampler).LearnedVariance);
        var e = Assert.Throws<TesseraException>(() => SamplerCatalog.Create("unipc"));
        Assert.Contains("unknown sampler 'unipc'", e.Message);
        Assert.Contains(string.Join(", ", SamplerCatalog.Names), e.Message);
        Assert.Contains("eta", Assert.Throws<TesseraException>(() => SamplerCatalog.Create("ddim", -1)).Message);
    }
}
