namespace Tessera;

// Comparisons and selection: masks as U8 tensors of 1 and 0, and Where to pick between two operands by one.
public sealed partial class Tensor
{
    /// <summary>op(this, other) element by element with NumPy broadcasting, as a U8 tensor of 1 (true) and 0
    /// (false); both operands of one dtype (float or integer).</summary>
    public Tensor Compare(CompareOp op, Tensor other)
    {
        ThrowIfDisposed();
        SameBackend("compare", other);
        string name = op.ToString();
        if (other.DType != DType || DType.IsBlock())
            throw new TesseraException($"{name}: operands must share a plain element dtype, got {DType.Name()} {Shape} and {other.DType.Name()} {other.Shape}");
        var shape = BroadcastShape(name, Shape, other.Shape);
        using var a = BroadcastTo(shape);
        using var b = other.BroadcastTo(shape);
        var dst = NewLike(shape, DType.U8);
        Backend.Compare(op, a, b, dst);
        return dst;
    }

    /// <summary>op(this, value) element by element as a U8 tensor (a padding mask: <c>ids.Compare(CompareOp.NotEqual,
    /// padId)</c>); the value is first stored in this tensor's dtype (rounded for integers and 16-bit floats; an i64
    /// value past 2^53 is not exact as a double).</summary>
    public Tensor Compare(CompareOp op, double value)
    {
        ThrowIfDisposed();
        if (DType.IsBlock()) throw new TesseraException($"{op}: a {DType.Name()} tensor {Shape} has no single elements to compare");
        using var v = Full(Backend, DType, new Shape(1), value);
        return Compare(op, v);
    }

    /// <summary>this == other (broadcast), U8.</summary>
    public Tensor Eq(Tensor other) => Compare(CompareOp.Equal, other);
    /// <summary>this != other (broadcast), U8.</summary>
    public Tensor Ne(Tensor other) => Compare(CompareOp.NotEqual, other);
    /// <summary>this &lt; other (broadcast), U8.</summary>
    public Tensor Lt(Tensor other) => Compare(CompareOp.Less, other);
    /// <summary>this &lt;= other (broadcast), U8.</summary>
    public Tensor Le(Tensor other) => Compare(CompareOp.LessOrEqual, other);
    /// <summary>this &gt; other (broadcast), U8.</summary>
    public Tensor Gt(Tensor other) => Compare(CompareOp.Greater, other);
    /// <summary>this &gt;= other (broadcast), U8.</summary>
    public Tensor Ge(Tensor other) => Compare(CompareOp.GreaterOrEqual, other);

    /// <summary>condition != 0 ? a : b element by element, the three broadcast together (NumPy's and ONNX's where);
    /// condition is U8 (as <see cref="Compare(CompareOp, Tensor)"/> makes it), a and b share one plain element dtype.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        a.ThrowIfDisposed();
        a.SameBackend("where", condition);
        a.SameBackend("where", b);
        if (condition.DType != DType.U8)
            throw new TesseraException($"where: the condition must be u8 (1 or 0), got {condition.DType.Name()} {condition.Shape}");
        if (a.DType != b.DType || a.DType.IsBlock())
            throw new TesseraException($"where: a and b must share a plain element dtype, got {a.DType.Name()} {a.Shape} and {b.DType.Name()} {b.Shape}");
        var shape = BroadcastShape("where", BroadcastShape("where", condition.Shape, a.Shape), b.Shape);
        using var c = condition.BroadcastTo(shape);
        using var x = a.BroadcastTo(shape);
        using var y = b.BroadcastTo(shape);
        var dst = a.NewLike(shape);
        a.Backend.Where(c, x, y, dst);
        return dst;
    }

    private static Shape BroadcastShape(string op, Shape a, Shape b)
    {
        try { return Shape.Broadcast(a, b); }
        catch (TesseraException e) { throw new TesseraException($"{op}: shapes {a} and {b} do not broadcast ({e.Message})", e); }
    }
}
