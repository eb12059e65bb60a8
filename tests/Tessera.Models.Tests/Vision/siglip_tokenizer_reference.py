"""Reference for SiglipTokenizer (SiglipTokenizerTests.cs), in plain Python (python3-sentencepiece is not in Debian's
set here). Usage: siglip_tokenizer_reference.py CASE.json; prints a JSON list of id lists.

The steps are transformers' SiglipTokenizer (tokenization_siglip.py) as written there: tokenize() prefixes "▁" (and
turns any "▁" in the text into a space) and lowercases (do_lower_case); _tokenize() canonicalizes (string.punctuation
removed, whitespace runs to one space, stripped), encodes "<unk>" + text with SentencePiece (add_dummy_prefix turned
off) and drops the pieces "<unk>" itself encodes to; "</s>" is appended. SentencePiece's part is its nmt_nfkc
normaliser (NFKC, extra whitespace removed, spaces to "▁") and the unigram model's Viterbi segmentation from Kudo
(2018): the pieces whose log probabilities sum highest, a character no piece covers alone being the unknown piece at
min score - 10, consecutive unknowns fused."""
import json
import re
import string
import sys
import unicodedata

UNDERLINE = "\u2581"


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        case = json.load(f)
    pieces = case["pieces"]          # [text, score, type]: 1 normal, 2 unknown, 3 control, 4 user defined
    vocab = {}
    for i, (text, score, kind) in enumerate(pieces):
        if kind in (1, 4) and text not in vocab:
            vocab[text] = (i, score)
    max_len = max(len(t) for t in vocab)
    unk_score = min(s for _, s in vocab.values()) - 10.0
    unk, eos = case["unk"], case["eos"]

    def viterbi(text):
        n = len(text)
        best = [float("-inf")] * (n + 1)
        back = [None] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] == float("-inf"):
                continue
            covers_single = False
            for j in range(i + 1, min(n, i + max_len) + 1):
                hit = vocab.get(text[i:j])
                if hit is None:
                    continue
                if j == i + 1:
                    covers_single = True
                if best[i] + hit[1] > best[j]:
                    best[j], back[j] = best[i] + hit[1], (i, hit[0])
            if not covers_single and best[i] + unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + unk_score, (i, unk)
        ids, end = [], n
        while end > 0:
            start, piece = back[end]
            ids.append(piece)
            end = start
        ids.reverse()
        fused = []
        for piece in ids:
            if not (piece == unk and fused and fused[-1] == unk):
                fused.append(piece)
        return fused

    def normalize(text):
        text = unicodedata.normalize("NFKC", text)
        text = re.sub(r"\s+", " ", text).strip(" ")
        return text.replace(" ", UNDERLINE)

    def canonicalize(text):
        text = text.translate(str.maketrans("", "", string.punctuation))
        text = re.sub(r"\s+", " ", text)
        return text.strip()

    unk_length = len(viterbi(normalize("<unk>")))
    out = []
    for text in case["texts"]:
        text = UNDERLINE + text.replace(UNDERLINE, " ")
        text = text.lower()
        text = canonicalize(text)
        tokens = viterbi(normalize("<unk>" + text))
        tokens = tokens[unk_length:] if len(tokens) >= unk_length else tokens
        out.append(tokens + [eos])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
