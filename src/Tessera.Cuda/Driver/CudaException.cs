namespace Tessera.Cuda;

/// <summary>A CUDA driver call failed. The message names the call, the CUDA error name and its description
/// (for example "cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory) allocating 1073741824 bytes").</summary>
public sealed class CudaException : TesseraException
{
    /// <summary>Creates the exception.</summary>
    public CudaException(string call, int error, string errorName, string errorText, string? detail = null)
        : base($"{call} failed: {errorName} ({errorText}){(string.IsNullOrEmpty(detail) ? "" : " " + detail)}")
    {
        Call = call;
        Error = error;
        ErrorName = errorName;
    }

    /// <summary>The driver function that failed.</summary>
    public string Call { get; }

    /// <summary>The CUresult value.</summary>
    public int Error { get; }

    /// <summary>The CUresult name, "CUDA_ERROR_OUT_OF_MEMORY".</summary>
    public string ErrorName { get; }
}
