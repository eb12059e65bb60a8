namespace Tessera.Formats.Tokenizers;

/// <summary>The clean-up llama.cpp's detokenizer applies for vocabularies with <c>clean_spaces</c> (Hugging Face's
/// <c>clean_up_tokenization_spaces</c>), three in-place passes over the bytes: no space before ? ! . ,; " ' " keeps
/// only the apostrophe; no space before 's 'm 're 've. In place, as there, so that edge cases match byte for byte.</summary>
internal static class SpaceCleanup
{
    public static byte[] Apply(List<byte> bytes)
    {
        var t = bytes.ToArray();
        int n = t.Length;

        int total = n > 0 ? 1 : 0;
        for (int i = 1; i < n; i++)
        {
            byte x = t[i];
            if (t[i - 1] == ' ' && x is (byte)'?' or (byte)'!' or (byte)'.' or (byte)',') total--;
            t[total++] = x;
        }

        n = total;
        total = n > 0 ? 1 : 0;
        for (int i = 1; i < n; i++)
        {
            byte x = t[i];
            if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ')
            {
                total--;
                t[++i] = 0;
            }
            t[total++] = x;
        }

        n = total;
        total = n > 0 ? 1 : 0;
        for (int i = 1; i < n; i++)
        {
            byte x = t[i];
            if (t[i - 1] == ' ' && x == '\'' && i + 1 < n)
            {
                byte x1 = t[i + 1];
                if (x1 is (byte)'s' or (byte)'m') total--;
                else if (x1 is not ((byte)'t' or (byte)'d') && i + 2 < n)
                {
                    byte x2 = t[i + 2];
                    if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
                }
            }
            t[total++] = x;
        }
        return t[..total];
    }
}
