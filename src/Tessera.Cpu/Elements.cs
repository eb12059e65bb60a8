namespace Tessera.Cpu;

/// <summary>Reads and writes one element of any plain dtype as a double: the slow, general path.</summary>
internal static unsafe class Elements
{
    public static double Read(byte* p, DType t) => t switch
    {
        DType.F32 => *(float*)p,
        DType.F16 => (double)*(Half*)p,
        DType.BF16 => BFloat16.ToSingle(*(ushort*)p),
        DType.I8 => *(sbyte*)p,
        DType.U8 => *p,
        DType.I32 => *(int*)p,
        DType.I64 => *(long*)p,
        _ => throw new TesseraException($"cannot read single elements of {t.Name()}"),
    };

    public static void Write(byte* p, DType t, double v)
    {
        switch (t)
        {
            case DType.F32: *(float*)p = (float)v; break;
            case DType.F16: *(Half*)p = (Half)v; break;
            case DType.BF16: *(ushort*)p = BFloat16.Round((float)v); break;
            case DType.I8: *(sbyte*)p = (sbyte)Math.Clamp(Math.Round(v), sbyte.MinValue, sbyte.MaxValue); break;
            case DType.U8: *p = (byte)Math.Clamp(Math.Round(v), 0, 255); break;
            case DType.I32: *(int*)p = (int)Math.Clamp(Math.Round(v), int.MinValue, int.MaxValue); break;
            case DType.I64: *(long*)p = (long)Math.Round(v); break;
            default: throw new TesseraException($"cannot write single elements of {t.Name()}");
        }
    }
}
