using System.Runtime.InteropServices;

namespace Tessera.Formats.Tests;

/// <summary>llama.cpp's own libggml-base (from the LLamaSharp.Backend.Cpu package, portable build), bound by hand:
/// the GGUF reader/writer and the type traits (to_float, from_float_ref). Tests only; src/ never references it.
/// Loading fails loudly: a missing or unloadable library is a test failure, not a skip.</summary>
internal static unsafe class Ggml
{
    [StructLayout(LayoutKind.Sequential)]
    public struct InitParams
    {
        public byte NoAlloc;
        public nint Ctx;
    }

    /// <summary>ggml.h's struct ggml_type_traits.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TypeTraits
    {
        public nint TypeName;
        public long BlckSize;
        public long BlckSizeInterleave;
        public nuint TypeSize;
        public byte IsQuantized;
        public delegate* unmanaged<void*, float*, long, void> ToFloat;
        public delegate* unmanaged<float*, void*, long, void> FromFloatRef;
    }

    private static readonly nint Lib = Load();

    private static nint Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "ggml", "libggml-base.so");
        if (!File.Exists(path)) throw new FileNotFoundException($"llama.cpp's libggml-base.so is not beside the tests (expected {path})");
        return NativeLibrary.Load(path);
    }

    private static nint F(string name) => NativeLibrary.GetExport(Lib, name);

    public static nint InitFromFile(string path)
    {
        var p = new InitParams { NoAlloc = 1, Ctx = 0 };
        var f = (delegate* unmanaged<byte*, InitParams, nint>)F("gguf_init_from_file");
        fixed (byte* s = Utf8(path)) return f(s, p);
    }

    public static void Free(nint ctx) => ((delegate* unmanaged<nint, void>)F("gguf_free"))(ctx);
    public static uint Version(nint ctx) => ((delegate* unmanaged<nint, uint>)F("gguf_get_version"))(ctx);
    public static nuint Alignment(nint ctx) => ((delegate* unmanaged<nint, nuint>)F("gguf_get_alignment"))(ctx);
    public static nuint DataOffset(nint ctx) => ((delegate* unmanaged<nint, nuint>)F("gguf_get_data_offset"))(ctx);
    public static long NTensors(nint ctx) => ((delegate* unmanaged<nint, long>)F("gguf_get_n_tensors"))(ctx);
    public static long NKv(nint ctx) => ((delegate* unmanaged<nint, long>)F("gguf_get_n_kv"))(ctx);
    public static long FindTensor(nint ctx, string name) { fixed (byte* s = Utf8(name)) return ((delegate* unmanaged<nint, byte*, long>)F("gguf_find_tensor"))(ctx, s); }
    public static long FindKey(nint ctx, string key) { fixed (byte* s = Utf8(key)) return ((delegate* unmanaged<nint, byte*, long>)F("gguf_find_key"))(ctx, s); }
    public static nuint TensorOffset(nint ctx, long id) => ((delegate* unmanaged<nint, long, nuint>)F("gguf_get_tensor_offset"))(ctx, id);
    public static int TensorType(nint ctx, long id) => ((delegate* unmanaged<nint, long, int>)F("gguf_get_tensor_type"))(ctx, id);
    public static nuint TensorSize(nint ctx, long id) => ((delegate* unmanaged<nint, long, nuint>)F("gguf_get_tensor_size"))(ctx, id);
    public static int KvType(nint ctx, long id) => ((delegate* unmanaged<nint, long, int>)F("gguf_get_kv_type"))(ctx, id);
    public static int ArrType(nint ctx, long id) => ((delegate* unmanaged<nint, long, int>)F("gguf_get_arr_type"))(ctx, id);
    public static nuint ArrN(nint ctx, long id) => ((delegate* unmanaged<nint, long, nuint>)F("gguf_get_arr_n"))(ctx, id);
    public static void* ArrData(nint ctx, long id) => ((delegate* unmanaged<nint, long, void*>)F("gguf_get_arr_data"))(ctx, id);
    public static string ArrStr(nint ctx, long id, nuint i) => Marshal.PtrToStringUTF8(((delegate* unmanaged<nint, long, nuint, nint>)F("gguf_get_arr_str"))(ctx, id, i))!;
    public static void* ValData(nint ctx, long id) => ((delegate* unmanaged<nint, long, void*>)F("gguf_get_val_data"))(ctx, id);
    public static string ValStr(nint ctx, long id) => Marshal.PtrToStringUTF8(((delegate* unmanaged<nint, long, nint>)F("gguf_get_val_str"))(ctx, id))!;

    public static TypeTraits* Traits(int type) => ((delegate* unmanaged<int, TypeTraits*>)F("ggml_get_type_traits"))(type);
    /// <summary>The type's to_float; for Q8_K, whose trait entries live in ggml-cpu, ggml-base's exported
    /// <c>dequantize_row_q8_K</c>.</summary>
    public static delegate* unmanaged<void*, float*, long, void> ToFloat(int type)
    {
        var f = Traits(type)->ToFloat;
        if (f == null && type == 15) f = (delegate* unmanaged<void*, float*, long, void>)F("dequantize_row_q8_K");
        if (f == null) throw new InvalidOperationException($"ggml has no to_float for type {type}");
        return f;
    }

    /// <summary>The type's from_float_ref (for Q8_K: <c>quantize_row_q8_K_ref</c>).</summary>
    public static delegate* unmanaged<float*, void*, long, void> FromFloatRef(int type)
    {
        var f = Traits(type)->FromFloatRef;
        if (f == null && type == 15) f = (delegate* unmanaged<float*, void*, long, void>)F("quantize_row_q8_K_ref");
        if (f == null) throw new InvalidOperationException($"ggml has no from_float_ref for type {type}");
        return f;
    }

    public static nuint TypeSize(int type) => ((delegate* unmanaged<int, nuint>)F("ggml_type_size"))(type);
    public static long BlckSize(int type) => ((delegate* unmanaged<int, long>)F("ggml_blck_size"))(type);

    // Writing through ggml: an empty context, typed setters, gguf_write_to_file.
    public static nint InitEmpty() => ((delegate* unmanaged<nint>)F("gguf_init_empty"))();
    public static void SetU8(nint c, string k, byte v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, byte, void>)F("gguf_set_val_u8"))(c, s, v); }
    public static void SetI8(nint c, string k, sbyte v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, sbyte, void>)F("gguf_set_val_i8"))(c, s, v); }
    public static void SetU16(nint c, string k, ushort v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, ushort, void>)F("gguf_set_val_u16"))(c, s, v); }
    public static void SetI16(nint c, string k, short v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, short, void>)F("gguf_set_val_i16"))(c, s, v); }
    public static void SetU32(nint c, string k, uint v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, uint, void>)F("gguf_set_val_u32"))(c, s, v); }
    public static void SetI32(nint c, string k, int v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, int, void>)F("gguf_set_val_i32"))(c, s, v); }
    public static void SetF32(nint c, string k, float v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, float, void>)F("gguf_set_val_f32"))(c, s, v); }
    public static void SetU64(nint c, string k, ulong v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, ulong, void>)F("gguf_set_val_u64"))(c, s, v); }
    public static void SetI64(nint c, string k, long v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, long, void>)F("gguf_set_val_i64"))(c, s, v); }
    public static void SetF64(nint c, string k, double v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, double, void>)F("gguf_set_val_f64"))(c, s, v); }
    public static void SetBool(nint c, string k, bool v) { fixed (byte* s = Utf8(k)) ((delegate* unmanaged<nint, byte*, byte, void>)F("gguf_set_val_bool"))(c, s, (byte)(v ? 1 : 0)); }
    public static void SetStr(nint c, string k, string v) { fixed (byte* s = Utf8(k)) fixed (byte* x = Utf8(v)) ((delegate* unmanaged<nint, byte*, byte*, void>)F("gguf_set_val_str"))(c, s, x); }
    public static void SetArrData<T>(nint c, string k, int type, T[] v) where T : unmanaged
    {
        fixed (byte* s = Utf8(k)) fixed (T* d = v) ((delegate* unmanaged<nint, byte*, int, void*, nuint, void>)F("gguf_set_arr_data"))(c, s, type, d, (nuint)v.Length);
    }
    public static void SetArrStr(nint c, string k, string[] v)
    {
        var handles = v.Select(x => GCHandle.Alloc(Utf8(x), GCHandleType.Pinned)).ToArray();
        try
        {
            var ptrs = handles.Select(h => h.AddrOfPinnedObject()).ToArray();
            fixed (byte* s = Utf8(k)) fixed (nint* p = ptrs) ((delegate* unmanaged<nint, byte*, nint*, nuint, void>)F("gguf_set_arr_str"))(c, s, p, (nuint)v.Length);
        }
        finally { foreach (var h in handles) h.Free(); }
    }
    public static bool WriteToFile(nint c, string path)
    {
        fixed (byte* s = Utf8(path)) return ((delegate* unmanaged<nint, byte*, byte, byte>)F("gguf_write_to_file"))(c, s, 0) != 0;
    }

    private static byte[] Utf8(string s) => System.Text.Encoding.UTF8.GetBytes(s + "\0");
}
