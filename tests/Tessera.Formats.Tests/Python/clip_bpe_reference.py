"""Reference of transformers' CLIPTokenizer (the slow Python one, without ftfy), written from its source, for
ClipTokenizerTests.

Usage: clip_bpe_reference.py DIR

DIR/texts.json holds a list of strings. The script trains a small BPE vocabulary on them and on a fixed English text
(CLIP's layout: the 256 byte symbols, the same with </w>, one entry per merge, <|startoftext|>, <|endoftext|>), writes
DIR/vocab.json and DIR/merges.txt, and writes DIR/expected.json: for each text, the ids CLIPTokenizer gives with
truncation to 77 ([start] ids [end]).

The steps, as in tokenization_clip.py and tokenization_bert.py's BasicTokenizer(strip_accents=False,
do_split_on_punc=False): drop NUL, U+FFFD and category C* (but tab, CR, LF); whitespace (tab, CR, LF, Zs) to spaces;
spaces around CJK ideographs; NFC; split on whitespace; str.lower(); CLIP's pattern
<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+ (IGNORECASE; the regex
module is not installed here, so the pattern is scanned by hand with unicodedata's categories); GPT-2's byte alphabet;
BPE with </w> on the last symbol, merging the lowest-ranked pair everywhere until none applies; unknown -> <|endoftext|>."""
import json
import os
import sys
import unicodedata
from collections import Counter


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")):
            continue
        if ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
            out.append(" ")
        elif is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    text = unicodedata.normalize("NFC", "".join(out))
    return [t.lower() for t in text.strip().split()]


def letter(c):
    return unicodedata.category(c).startswith("L")


def number(c):
    return unicodedata.category(c).startswith("N")


def pieces(word):
    i, out = 0, []
    while i < len(word):
        rest = word[i:]
        low = rest.lower()
        hit = next((s for s in ("<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d") if low.startswith(s)), None)
        if hit:
            out.append(rest[:len(hit)])
            i += len(hit)
            continue
        j = i
        if word[i].isspace():
            i += 1
            continue
        if letter(word[i]):
            while j < len(word) and letter(word[j]):
                j += 1
        elif number(word[i]):
            j += 1
        else:
            while j < len(word) and not (letter(word[j]) or number(word[j]) or word[j].isspace()):
                j += 1
        out.append(word[i:j])
        i = j
    return out


def symbols(piece):
    chars = [BYTE_ENCODER[b] for b in piece.encode("utf-8")]
    return chars[:-1] + [chars[-1] + "</w>"]


def bpe(piece, ranks):
    word = symbols(piece)
    while len(word) > 1:
        pairs = [(ranks.get((a, b), float("inf")), a, b) for a, b in zip(word, word[1:])]
        rank, first, second = min(pairs, key=lambda p: p[0])
        if rank == float("inf"):
            break
        new, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                new.append(first + second)
                i += 2
            else:
                new.append(word[i])
                i += 1
        word = new
    return word


def train(words, merges):
    counts = Counter(tuple(symbols(w)) for w in words)
    result = []
    for _ in range(merges):
        pairs = Counter()
        for w, c in counts.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        result.append(best)
        merged = Counter()
        for w, c in counts.items():
            new, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == best:
                    new.append(w[i] + w[i + 1])
                    i += 2
                else:
                    new.append(w[i])
                    i += 1
            merged[tuple(new)] += c
        counts = merged
    return result


ENGLISH = ("a photo of a cat. a photo of a dog. the quick brown fox jumps over the lazy dog. "
           "there's a picture of the sea, and they're looking at it; we'll see what you've got. " * 3)


def main(d):
    with open(os.path.join(d, "texts.json"), encoding="utf-8") as f:
        texts = json.load(f)
    words = [p for t in texts + [ENGLISH] for w in basic_tokenize(t) for p in pieces(w) if p not in ("<|startoftext|>", "<|endoftext|>")]
    merges = train(words, 400)
    base = list(BYTE_ENCODER.values())
    vocab = base + [v + "</w>" for v in base] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    encoder = {}
    for v in vocab:
        encoder.setdefault(v, len(encoder))
    ranks = {m: i for i, m in enumerate(merges)}
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(encoder, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    bos, eos = encoder["<|startoftext|>"], encoder["<|endoftext|>"]
    expected = []
    for t in texts:
        ids = []
        for w in basic_tokenize(t):
            for p in pieces(w):
                tokens = [p.lower()] if p.lower() in ("<|startoftext|>", "<|endoftext|>") else bpe(p, ranks)
                ids.extend(encoder.get(tok, eos) for tok in tokens)
        expected.append([bos] + ids[:75] + [eos])
    with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main(sys.argv[1])
