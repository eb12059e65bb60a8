namespace Tessera;

/// <summary>Raised for invalid use of the engine: shapes, dtypes or devices that do not fit an op.
/// Messages name the op, the shapes and the dtypes involved.</summary>
public class TesseraException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public TesseraException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner cause.</summary>
    public TesseraException(string message, Exception inner) : base(message, inner) { }
}
