namespace Tessera.Cuda.Tests;

/// <summary>Where there is no CUDA driver, the backend says so instead of throwing.</summary>
public sealed class NoDriverTests
{
    [SkippableFact]
    public void TryCreate_reports_a_missing_driver_without_throwing()
    {
        Skip.If(CudaInfo.DriverUnavailableReason is null, "a CUDA driver is present on this machine");
        Assert.False(CudaBackend.TryCreate(0, out var backend, out var why));
        Assert.Null(backend);
        Assert.StartsWith("no CUDA driver", why);
        Assert.Contains("cuda: unavailable: no CUDA driver", CudaInfo.Describe());
        Assert.Empty(CudaInfo.Devices());
        var e = Assert.Throws<TesseraException>(() => CudaBackend.Create(0));
        Assert.Contains("no CUDA driver", e.Message);
    }
}
