"""transformer suite, BPE cases: byte-level BPE encoding vs tiktoken, training vs Hugging Face.

Corpus: tiny-shakespeare (``../shared/data/tinyshakespeare/input.txt`` next to the
checkout, or ``$FASTML_DATA/tinyshakespeare/input.txt``); when it is absent, seeded
pseudo-English text of the same size, so the cases still run from the wheel.

- ``bpe_encode``: a size is the number of characters encoded (repeating the corpus as
  needed) with a vocabulary of 4096 trained on the corpus (1024 at test sizes); tiktoken
  gets the same ranks and GPT-2's split pattern (``tiktoken.Encoding(...,
  mergeable_ranks=...)``, ``encode_ordinary``, one thread). Answers: the token ids,
  identical for all three. Rate: MB/s of UTF-8 input.
- ``bpe_train``: a size is (vocab_size, characters of the corpus); the answer is the set of
  learned byte strings. The reference recounts every pair per merge (tiny sizes only);
  Hugging Face ``tokenizers`` runs its BPE trainer with the ByteLevel pre-tokenizer
  (GPT-2's pattern, 256-byte initial alphabet). Its ties break differently, so the check
  asks for 90% of the same tokens.
"""

import functools

import numpy as np

from fastml.benchmarks import Case, Impl, register
from fastml.benchmarks._data import shared_data
from fastml.reference import text as reference
from fastml.text import GPT2_PATTERN, BPETokenizer

_WORDS = ("the of and to a in that is was he for it with as his on be at by I you not "
          "this but from or have an they which one had we her all there were my when "
          "lord king thou thee shall would what love speak good\n").split(" ")


@functools.lru_cache(maxsize=1)
def _corpus():
    path = shared_data("tinyshakespeare", "input.txt")
    if path is not None:
        return path.read_text(encoding="utf-8")
    rng = np.random.default_rng(0)
    return " ".join(rng.choice(_WORDS, 200_000))


@functools.lru_cache(maxsize=2)
def _tokenizer(vocab_size):
    return BPETokenizer().train(_corpus(), vocab_size)


def _text_of(n_chars):
    corpus = _corpus()
    return (corpus * (n_chars // len(corpus) + 1))[:n_chars]


def _encode_setup(n_chars, rng):
    return {"text": _text_of(n_chars), "vocab_size": 4096 if n_chars > 10_000 else 1024}


def _tiktoken_prepare(inputs):
    import tiktoken

    tok = _tokenizer(inputs["vocab_size"])
    encoding = tiktoken.Encoding("fastml-bench", pat_str=GPT2_PATTERN,
                                 mergeable_ranks=tok.mergeable_ranks, special_tokens={})
    return {"text": inputs["text"], "encoding": encoding}


def _reference_encoder(inputs):
    naive = reference.BPETokenizer()
    naive.tokens = list(_tokenizer(inputs["vocab_size"]).mergeable_ranks)
    return {"text": inputs["text"], "naive": naive}


def _fastml_encoder(inputs):
    return {"text": inputs["text"], "tok": _tokenizer(inputs["vocab_size"])}


def _check_ids(expected, actual, size):
    assert list(actual) == list(expected), "different token ids"


register(Case(
    suite="transformer", name="bpe_encode",
    description="Byte-level BPE encoding (GPT-2 split pattern, tiktoken's merge rule) of "
                "tiny-shakespeare with 4096 trained ranks, one thread; size: characters.",
    setup=_encode_setup, sizes=[1_000_000, 4_000_000], quick_sizes=[300_000],
    test_sizes=[0, 2_000], check=_check_ids,
    rates=lambda n, ids: {"MB": len(_text_of(n).encode("utf-8")) / 1e6},
    impls=[
        Impl("fastml", lambda text, tok: tok.encode(text), prepare=_fastml_encoder),
        Impl("reference", lambda text, naive: naive.encode(text), max_size=50_000,
             prepare=_reference_encoder),
        Impl("tiktoken", lambda text, encoding: encoding.encode_ordinary(text),
             requires=("tiktoken",), prepare=_tiktoken_prepare),
    ],
))


def _train_setup(size, rng):
    vocab_size, n_chars = size
    return {"text": _text_of(n_chars), "vocab_size": vocab_size}


@functools.lru_cache(maxsize=1)
def _byte_of_char():
    """Inverse of GPT-2's ``bytes_to_unicode`` (the alphabet of Hugging Face's ByteLevel):
    printable Latin-1 bytes stand for themselves, the other 68 for chr(256 + k)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\xa1"), ord("\xac") + 1),
                 *range(ord("\xae"), ord("\xff") + 1)]
    table = {chr(b): b for b in printable}
    others = [b for b in range(256) if b not in table.values()]
    table.update({chr(256 + k): b for k, b in enumerate(others)})
    return table


def _hf_train(text, vocab_size):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[])
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def _hf_tokens(tok):
    table = _byte_of_char()
    return {bytes(table[ch] for ch in token) for token in tok.get_vocab()}


def _check_tokens(expected, actual, size):
    shared = len(expected & actual) / max(1, len(expected), len(actual))
    assert shared >= 0.9, f"{shared:.1%} shared tokens ({len(actual)} vs {len(expected)})"



register(Case(
    suite="transformer", name="bpe_train",
    description="Byte-level BPE training on tiny-shakespeare to vocab_size tokens "
                "(incremental pair counts, lazy max-heap); size: (vocab_size, characters).",
    setup=_train_setup, sizes=[(4096, 1_115_394), (16384, 1_115_394)],
    quick_sizes=[(4096, 1_115_394)], test_sizes=[(300, 3_000), (400, 20_000)],
    size_key=lambda s: s[0] * s[1], size_label=lambda s: f"vocab {s[0]}, {s[1]} chars",
    check=_check_tokens,
    impls=[
        Impl("fastml", lambda text, vocab_size:
             set(BPETokenizer().train(text, vocab_size).mergeable_ranks)),
        Impl("reference", lambda text, vocab_size:
             set(reference.BPETokenizer().train(text, vocab_size).tokens), max_size=1e6),
        Impl("tokenizers", _hf_train, requires=("tokenizers",), to_numpy=_hf_tokens),
    ],
))
