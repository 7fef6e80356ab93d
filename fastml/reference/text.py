"""Byte-level BPE written straight from the definitions (see :mod:`fastml.text`).

Same interface as :class:`fastml.text.BPETokenizer` for ``train`` / ``encode`` /
``decode`` (GPT-2's split pattern only): pieces from a character-by-character reading of
GPT-2's pattern, training by recounting every pair after every merge, encoding by
looking up the concatenated bytes of every adjacent pair after every merge.
"""

import unicodedata

__all__ = ["BPETokenizer", "gpt2_split"]

_WHITE_SPACE = frozenset(chr(c) for c in (*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680,
                                          *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F,
                                          0x205F, 0x3000))


def _kind(ch):
    """'space' (Unicode White_Space), 'letter' (category L), 'number' (N) or 'other'."""
    if ch in _WHITE_SPACE:
        return "space"
    return {"L": "letter", "N": "number"}.get(unicodedata.category(ch)[0], "other")


def gpt2_split(text):
    """Pieces of ``text`` under GPT-2's pattern, the first alternative that matches wins:

    's 't 're 've 'm 'll 'd | ' '? letters | ' '? numbers | ' '? others |
    whitespace not followed by a non-space | whitespace.
    """
    pieces, i, n = [], 0, len(text)
    while i < n:
        if text[i] == "'" and text[i + 1:i + 2] in ("s", "t", "m", "d"):
            end = i + 2
        elif text[i] == "'" and text[i + 1:i + 3] in ("re", "ve", "ll"):
            end = i + 3
        else:
            start = i + 1 if text[i] == " " and i + 1 < n and _kind(text[i + 1]) != "space" \
                else i
            kind = _kind(text[start])
            end = start + 1
            while end < n and _kind(text[end]) == kind:
                end += 1
            if kind == "space" and end < n and end - i > 1:
                end -= 1  # \s+(?!\S): leave one space to lead the next word
        pieces.append(text[i:end])
        i = end
    return pieces


class BPETokenizer:
    """Naive byte-level BPE: ``train(text, vocab_size)``, ``encode``, ``decode``."""

    def __init__(self):
        self.tokens = None

    def train(self, text, vocab_size):
        words = {}
        for piece in gpt2_split(text):
            word = tuple(piece.encode("utf-8"))
            words[word] = words.get(word, 0) + 1
        self.tokens = [bytes([b]) for b in range(256)]
        ids = {t: i for i, t in enumerate(self.tokens)}
        self.merges = []
        while len(self.tokens) < vocab_size:
            counts = {}
            for word, freq in words.items():
                for pair in zip(word[:-1], word[1:]):
                    counts[pair] = counts.get(pair, 0) + freq
            counts = {pair: c for pair, c in counts.items() if c > 0}
            if not counts:
                break
            # most frequent pair; ties go to the smallest (left, right)
            best = min(counts, key=lambda pair: (-counts[pair], pair))
            joined = self.tokens[best[0]] + self.tokens[best[1]]
            if joined not in ids:
                ids[joined] = len(self.tokens)
                self.tokens.append(joined)
            merged = ids[joined]
            self.merges.append((best[0], best[1], merged))
            words = {_merge(word, best, merged): freq for word, freq in words.items()}
        return self

    def encode(self, text):
        ranks = {t: i for i, t in enumerate(self.tokens)}
        ids = []
        for piece in gpt2_split(text):
            ids += _encode_piece(piece.encode("utf-8"), ranks)
        return ids

    def decode(self, ids):
        return b"".join(self.tokens[i] for i in ids).decode("utf-8", errors="replace")


def _merge(word, pair, merged):
    """``word`` with every occurrence of ``pair``, left to right, replaced by ``merged``."""
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(merged)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def _encode_piece(piece, ranks):
    """tiktoken's rule: a token stays whole; else merge the leftmost lowest-rank pair."""
    if piece in ranks:
        return [ranks[piece]]
    parts = [piece[k:k + 1] for k in range(len(piece))]
    while len(parts) > 1:
        pair_ranks = [ranks.get(a + b) for a, b in zip(parts[:-1], parts[1:])]
        known = [(r, k) for k, r in enumerate(pair_ranks) if r is not None]
        if not known:
            break
        _, k = min(known)
        parts[k:k + 2] = [parts[k] + parts[k + 1]]
    return [ranks[p] for p in parts]
