using System.Globalization;

namespace Tessera.Formats.Tokenizers;

/// <summary>The codepoint classes llama.cpp's tokenizers test (<c>unicode_cpt_flags</c>): one general category plus the
/// White_Space property. Out-of-range positions are <see cref="None"/>, a real codepoint is never None.</summary>
[Flags]
internal enum CodepointFlags : ushort
{
    None = 0,
    Undefined = 1,
    Number = 2,
    Letter = 4,
    Separator = 8,
    AccentMark = 16,
    Punctuation = 32,
    Symbol = 64,
    Control = 128,
    Whitespace = 256,
}

internal static class Codepoints
{
    /// <summary>The flags of one codepoint, from .NET's Unicode tables.</summary>
    public static CodepointFlags Flags(int cp)
    {
        if (cp < 0 || cp > 0x10FFFF) return CodepointFlags.Undefined;
        var flags = Category(CharUnicodeInfo.GetUnicodeCategory(cp));
        return IsWhitespace(cp) ? flags | CodepointFlags.Whitespace : flags;
    }

    public static bool IsLetter(this CodepointFlags f) => (f & CodepointFlags.Letter) != 0;
    public static bool IsNumber(this CodepointFlags f) => (f & CodepointFlags.Number) != 0;
    public static bool IsWhitespace(this CodepointFlags f) => (f & CodepointFlags.Whitespace) != 0;

    /// <summary>Unicode's White_Space property (what llama.cpp's <c>unicode_set_whitespace</c> lists).</summary>
    public static bool IsWhitespace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D => true,
        0x20 or 0x85 or 0xA0 or 0x1680 or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        >= 0x2000 and <= 0x200A => true,
        _ => false,
    };

    private static CodepointFlags Category(UnicodeCategory c) => c switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CodepointFlags.Letter,
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => CodepointFlags.AccentMark,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CodepointFlags.Number,
        UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation => CodepointFlags.Punctuation,
        UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol => CodepointFlags.Symbol,
        UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => CodepointFlags.Separator,
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse => CodepointFlags.Control,
        _ => CodepointFlags.Undefined,
    };

    /// <summary>The lower-case form of one codepoint (a single-codepoint mapping, as <c>unicode_tolower</c>).</summary>
    public static int ToLower(int cp)
    {
        if (cp < 0x10000) return char.ToLowerInvariant((char)cp);
        string s = char.ConvertFromUtf32(cp).ToLowerInvariant();
        return char.ConvertToUtf32(s, 0);
    }

    /// <summary>The first codepoint of a codepoint's canonical decomposition (llama.cpp's NFD table keeps only that).</summary>
    public static int NfdFirst(int cp)
    {
        if (cp < 0xC0 || (cp >= 0xD800 && cp <= 0xDFFF)) return cp;
        string s = char.ConvertFromUtf32(cp);
        string d = s.Normalize(System.Text.NormalizationForm.FormD);
        return char.ConvertToUtf32(d, 0);
    }
}
