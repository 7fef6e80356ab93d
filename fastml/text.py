"""Byte-level byte-pair encoding (BPE), as GPT-2 and tiktoken.

A token is a byte string; its id is its rank. The 256 single bytes are tokens, so every
Unicode string has an encoding and ``decode(encode(s)) == s``.

Pre-tokenization. The UTF-8 text is cut into pieces by a split pattern, GPT-2's by default,

    '(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

(contractions, words, numbers, runs of other symbols, each with at most one leading
space; whitespace before a word stays with the word). The standard library's ``re`` has
no ``\\p{L}``, so this pattern runs as a compiled scanner over a table of code-point
classes (Unicode general categories L and N from :mod:`unicodedata`, the Unicode
White_Space set for ``\\s``; Python 3.11's tables are Unicode 14, tiktoken's Rust ones
are newer, so code points assigned since then may be classed differently). Any other
pattern is compiled with ``re`` (or with the third-party ``regex`` module when ``re``
cannot express it and ``regex`` is installed).

Encoding (tiktoken's rule, per piece): a piece that is a token is that token; otherwise
start from its bytes and repeatedly merge the leftmost adjacent pair whose concatenation
has the smallest rank until no adjacent concatenation is a token.

Training (Sennrich et al. 2016 on bytes, GPT-2): count the adjacent symbol pairs of every
distinct piece weighted by its frequency; merge the most frequent pair (ties: the smallest
(left id, right id)) left to right in every piece; the concatenation becomes the next
token id (unless it already is a token, as in Hugging Face ``tokenizers``); repeat until
``vocab_size`` tokens. The compiled loop (``fastml.kernels._text``) updates the pair counts
only where a merge changes a piece, so a merge costs the occurrences it touches.

Special tokens (e.g. ``"<|endoftext|>"``) get ids after the ordinary tokens and are only
recognised in ``encode`` when listed in ``allowed_special``; otherwise they are plain text.
"""

import base64
import json
import os
import re

import numpy as np

from fastml import _kernels
from fastml._errors import NotFittedError
from fastml._validation import (
    check_collection,
    check_index_array,
    check_instance,
    check_nonempty,
    check_positive_int,
)

__all__ = ["GPT2_PATTERN", "BPETokenizer"]

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Unicode White_Space (what \s means in Rust's regex, hence in tiktoken)
_WHITE_SPACE = (*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
# Planes 4 and up hold no letters or numbers (unassigned, tags, private use).
_LAST_CLASSIFIED = 0x40000
_CODE_POINT_CLASSES = None
_SAVE_FORMAT = "fastml-bpe/1"


def _code_point_classes():
    """uint8 class (other, letter, number, space) of every code point, built once.

    ``str.isalpha`` is exactly general category L and ``str.isnumeric`` minus letters is
    exactly category N (both from :mod:`unicodedata`), evaluated vectorised by NumPy.
    """
    global _CODE_POINT_CLASSES
    if _CODE_POINT_CLASSES is None:
        text = _kernels.load("_text")
        code_points = np.arange(_LAST_CLASSIFIED, dtype="<u4")
        code_points[0xD800:0xE000] = 0x20  # surrogates never occur in valid UTF-8
        chars = code_points.view("<U1")
        letters = np.char.isalpha(chars)
        numbers = np.char.isnumeric(chars) & ~letters
        classes = np.full(0x110000, text.CLASS_OTHER, dtype=np.uint8)
        classes[:_LAST_CLASSIFIED][letters] = text.CLASS_LETTER
        classes[:_LAST_CLASSIFIED][numbers] = text.CLASS_NUMBER
        classes[0xD800:0xE000] = text.CLASS_OTHER
        classes[list(_WHITE_SPACE)] = text.CLASS_SPACE
        _CODE_POINT_CLASSES = classes
    return _CODE_POINT_CLASSES


def _check_text(text, name="text"):
    """UTF-8 bytes of ``text`` (a str without unpaired surrogates)."""
    check_instance(text, name, str, "a str")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(f"{name} holds an unpaired surrogate at index {err.start} "
                         "(not valid Unicode, it has no UTF-8 encoding)") from None


class _Splitter:
    """Pre-tokenizer: GPT-2's pattern as the compiled scanner, any other as a regex."""

    def __init__(self, pattern):
        check_instance(pattern, "pattern", str, "a str")
        self.pattern = pattern
        self.regex = None
        if pattern == GPT2_PATTERN:
            return
        try:
            self.regex = re.compile(pattern)
        except re.error as err:
            try:
                import regex
            except ImportError:
                raise ValueError(
                    f"pattern {pattern!r} is not a valid pattern for the standard library's "
                    f"re ({err}); \\p{{...}} classes need the 'regex' package, which is not "
                    "installed (GPT2_PATTERN runs without it)") from None
            try:
                self.regex = regex.compile(pattern)
            except regex.error as err2:
                raise ValueError(f"pattern {pattern!r} is not a valid regex: {err2}") from None

    def pieces(self, text, data):
        """(UTF-8 bytes, int64 piece boundaries) of ``text`` whose bytes are ``data``."""
        if self.regex is None:
            bounds = np.empty(len(data) + 1, dtype=np.int64)
            n = _kernels.load("_text").gpt2_split(data, _code_point_classes(), bounds)
            return data, bounds[:n + 1]
        encoded = [m.group().encode("utf-8") for m in self.regex.finditer(text) if m.group()]
        bounds = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in encoded], out=bounds[1:])
        return b"".join(encoded), bounds

    def encode(self, encoder, text, data):
        """Token ids (int32) of ``text`` (bytes ``data``) with the compiled encoder."""
        out = np.empty(len(data), dtype=np.int32)
        if self.regex is None:
            n = encoder.encode_gpt2(data, _code_point_classes(), out)
        else:
            joined, bounds = self.pieces(text, data)
            n = encoder.encode_pieces(joined, bounds, out)
        return out[:n]


def _check_special_tokens(special_tokens, first_id):
    """dict str -> id: a sequence of strings gets ids first_id, first_id + 1, ...; a dict
    keeps its ids, which must be >= first_id and distinct."""
    if special_tokens is None:
        return {}
    check_collection(special_tokens, "special_tokens", "a sequence of str or a dict str -> id")
    given = None
    if not isinstance(special_tokens, dict):
        given = list(special_tokens)
        special_tokens = {tok: first_id + i for i, tok in enumerate(given)}
    ids = set()
    for tok, tok_id in special_tokens.items():
        check_nonempty(_check_text(tok, "special_tokens entries"), "special_tokens entries")
        if isinstance(tok_id, bool) or not isinstance(tok_id, (int, np.integer)) or \
                tok_id < first_id or tok_id in ids:
            raise ValueError(f"special_tokens[{tok!r}] == {tok_id!r}: special ids must be "
                             f"distinct integers >= {first_id} (after the ordinary tokens)")
        ids.add(int(tok_id))
    if given is not None and len(special_tokens) != len(given):
        raise ValueError(f"special_tokens must be distinct, got {given!r}")
    return {tok: int(i) for tok, i in special_tokens.items()}


class BPETokenizer:
    """Byte-level BPE tokenizer (GPT-2 / tiktoken semantics).

    Build one with :meth:`train`, :meth:`from_ranks` (e.g. tiktoken's mergeable ranks) or
    :meth:`load`. Attributes after that: ``pattern`` (split pattern), ``special_tokens``
    (dict str -> id), ``n_vocab`` (largest id + 1), ``mergeable_ranks`` (dict bytes -> id
    of the ordinary tokens), ``merges`` ((n_merges, 3) int32 rows (left, right, merged)
    from training, else None).

    >>> tok = BPETokenizer().train(text, vocab_size=512, special_tokens=["<|endoftext|>"])
    >>> tok.decode(tok.encode("Hello world")) == "Hello world"
    True
    """

    def __init__(self):
        self._tokens = None
        self._encoder = None
        self._splitter = None
        self.special_tokens = {}
        self.merges = None

    # ---------------------------------------------------------------- construction
    def train(self, text, vocab_size, pattern=GPT2_PATTERN, special_tokens=None):
        """Learn merges on ``text`` until ``vocab_size`` ordinary tokens (256 bytes + merges).

        Parameters
        ----------
        text : str
        vocab_size : int >= 256. Training stops early when no adjacent pair is left.
        pattern : split pattern (default GPT-2's); pieces never merge across its matches.
        special_tokens : sequence of str, given ids vocab_size, vocab_size + 1, ...
            (after the ordinary tokens when training stopped early).

        Returns self.
        """
        data = _check_text(text)
        vocab_size = check_positive_int(vocab_size, "vocab_size", min_val=256)
        splitter = _Splitter(pattern)
        _check_special_tokens(special_tokens, 0)
        kernel = _kernels.load("_text")
        words, word_bounds, freq = kernel.count_pieces(*splitter.pieces(text, data))
        merges = kernel.train(words, word_bounds, freq, vocab_size)
        tokens = [bytes([b]) for b in range(256)]
        for left, right, merged in merges.tolist():
            if merged == len(tokens):
                tokens.append(tokens[left] + tokens[right])
        specials = special_tokens if isinstance(special_tokens, dict) else \
            list(special_tokens or ())
        self._set(tokens, splitter, _check_special_tokens(specials, len(tokens)))
        self.merges = merges
        return self

    @classmethod
    def from_ranks(cls, mergeable_ranks, pattern=GPT2_PATTERN, special_tokens=None):
        """Tokenizer of existing ranks (tiktoken's ``mergeable_ranks``: dict bytes -> rank,
        ranks 0..n-1, all 256 single bytes included); ``special_tokens`` dict str -> id
        (ids >= n)."""
        check_instance(mergeable_ranks, "mergeable_ranks", dict, "a dict bytes -> int")
        n = len(mergeable_ranks)
        tokens = [None] * n
        for tok, rank in mergeable_ranks.items():
            check_nonempty(check_instance(tok, "mergeable_ranks keys", bytes, "bytes"),
                           "mergeable_ranks keys")
            if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or \
                    not 0 <= rank < n or tokens[rank] is not None:
                raise ValueError(f"mergeable_ranks values must be the ranks 0..{n - 1}, each "
                                 f"once; got {rank!r} for {tok!r}")
            tokens[rank] = tok
        singles = {t for t in tokens if len(t) == 1}
        if len(singles) != 256:
            missing = sorted(set(range(256)) - {t[0] for t in singles})
            raise ValueError(f"mergeable_ranks must hold all 256 single bytes; missing "
                             f"{missing[:8]}{'...' if len(missing) > 8 else ''}")
        tokenizer = cls()
        tokenizer._set(tokens, _Splitter(pattern), _check_special_tokens(special_tokens, n))
        return tokenizer

    def _set(self, tokens, splitter, special_tokens):
        starts = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in tokens], out=starts[1:])
        self._encoder = _kernels.load("_text").Encoder(b"".join(tokens), starts)
        self._tokens = tokens
        self._splitter = splitter
        self.special_tokens = special_tokens
        self._special_bytes = {i: tok.encode("utf-8") for tok, i in special_tokens.items()}
        self._special_regex = {}

    def _check_trained(self):
        if self._encoder is None:
            raise NotFittedError("this BPETokenizer is not trained yet: call "
                                 "train(text, vocab_size), from_ranks(...) or load(path) first")

    # ---------------------------------------------------------------- attributes
    @property
    def pattern(self):
        self._check_trained()
        return self._splitter.pattern

    @property
    def n_vocab(self):
        """Largest id + 1 (ordinary tokens and special tokens)."""
        self._check_trained()
        return max([len(self._tokens) - 1, *self.special_tokens.values()]) + 1

    @property
    def mergeable_ranks(self):
        """dict bytes -> id of the ordinary tokens (tiktoken's ``mergeable_ranks``)."""
        self._check_trained()
        return {tok: i for i, tok in enumerate(self._tokens)}

    # ---------------------------------------------------------------- encode / decode
    def encode(self, text, allowed_special=()):
        """Token ids (list of int) of ``text``.

        ``allowed_special``: "all" or a collection of special-token strings that are
        encoded as their ids where they occur; everything else, including the text of
        other special tokens, is encoded as ordinary text.
        """
        self._check_trained()
        data = _check_text(text)
        if allowed_special == "all":
            allowed = frozenset(self.special_tokens)
        else:
            check_collection(allowed_special, "allowed_special", '"all" or a collection of str')
            allowed = frozenset(allowed_special)
            unknown = allowed - set(self.special_tokens)
            if unknown:
                raise ValueError(f"allowed_special holds {sorted(unknown)!r}, which are not "
                                 f"special tokens of this tokenizer")
        if not allowed or not any(tok in text for tok in allowed):
            return self._splitter.encode(self._encoder, text, data).tolist()
        finder = self._special_regex.get(allowed)
        if finder is None:
            finder = re.compile("|".join(re.escape(tok) for tok in
                                         sorted(allowed, key=len, reverse=True)))
            self._special_regex[allowed] = finder
        ids, at = [], 0
        for match in finder.finditer(text):
            chunk = text[at:match.start()]
            ids += self._splitter.encode(self._encoder, chunk, chunk.encode("utf-8")).tolist()
            ids.append(self.special_tokens[match.group()])
            at = match.end()
        chunk = text[at:]
        ids += self._splitter.encode(self._encoder, chunk, chunk.encode("utf-8")).tolist()
        return ids

    def _check_ids(self, ids):
        self._check_trained()
        arr = np.asarray(ids)
        if arr.size == 0:
            return arr.reshape(0).astype(np.int32)
        arr = check_index_array(arr, "ids", self.n_vocab, what="token ids", ndim=1)
        outside = arr[(arr < 0) | (arr >= len(self._tokens))]
        if outside.size:
            bad = outside[~np.isin(outside, list(self._special_bytes))]
            if bad.size:
                raise ValueError(f"ids holds {int(bad[0])}, which is no token id of this "
                                 f"tokenizer (ordinary ids 0..{len(self._tokens) - 1}, "
                                 f"special ids {sorted(self._special_bytes)})")
        return arr.astype(np.int32)

    def decode_bytes(self, ids):
        """Concatenated bytes of the tokens ``ids``."""
        arr = self._check_ids(ids)
        special = arr >= len(self._tokens)
        if not special.any():
            return self._encoder.decode(arr)
        parts, at = [], 0
        for k in np.flatnonzero(special).tolist():
            parts.append(self._encoder.decode(arr[at:k]))
            parts.append(self._special_bytes[int(arr[k])])
            at = k + 1
        parts.append(self._encoder.decode(arr[at:]))
        return b"".join(parts)

    def decode(self, ids, errors="replace"):
        """The text of ``ids``: their bytes decoded as UTF-8 (``errors`` as in
        ``bytes.decode``; a slice of ids may end inside a character)."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    # ---------------------------------------------------------------- save / load
    def save(self, path):
        """Write the tokenizer as JSON (pattern, special tokens, tokens in base64 by id)."""
        self._check_trained()
        state = {"format": _SAVE_FORMAT, "pattern": self._splitter.pattern,
                 "special_tokens": self.special_tokens,
                 "tokens": [base64.b64encode(t).decode("ascii") for t in self._tokens]}
        if self.merges is not None:
            state["merges"] = self.merges.tolist()
        with open(os.fspath(path), "w", encoding="utf-8") as fh:
            json.dump(state, fh)

    @classmethod
    def load(cls, path):
        """The tokenizer written by :meth:`save` at ``path``."""
        with open(os.fspath(path), encoding="utf-8") as fh:
            try:
                state = json.load(fh)
            except json.JSONDecodeError as err:
                raise ValueError(f"path {path!s} is not a saved BPETokenizer: {err}") from None
        if not isinstance(state, dict) or state.get("format") != _SAVE_FORMAT:
            raise ValueError(f"path {path!s} is not a saved BPETokenizer "
                             f"(format {_SAVE_FORMAT!r})")
        ranks = {base64.b64decode(t): i for i, t in enumerate(state["tokens"])}
        tokenizer = cls.from_ranks(ranks, state["pattern"], state["special_tokens"])
        if "merges" in state:
            tokenizer.merges = np.asarray(state["merges"], dtype=np.int32).reshape(-1, 3)
        return tokenizer
