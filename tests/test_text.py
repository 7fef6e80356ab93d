"""fastml.text.BPETokenizer vs tiktoken (same ranks and pattern) and the naive reference."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastml import NotFittedError
from fastml.reference import text as reference
from fastml.text import GPT2_PATTERN, BPETokenizer, _Splitter

SHAKESPEARE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                           "tinyshakespeare", "input.txt")

TRICKY = [
    "", " ", "  ", "a", " a", "a ", "\n", "\n\n\nx", "  x", "x  ", "x\t\ty", "\u3000\u3000x",
    "I'm here, they'll go; we've 're 'd 's 'S 'x ''s", "héllo wörld — naïve café",
    "12 345 ３４ ⅷ ½ x2 2x", "😀😀 🇫🇷 a😀", "?? ... !!! ¿qué?", "\x00\x1c\x1f\x7f\x85\xa0",
    "日本語のテキスト、中文。", "Ελληνικά Кириллица עברית العربية", "tab\tand\r\nnewline\n",
    "  leading and trailing spaces  ", "a\u2028b\u2029c\u200bd", "x" * 300 + " " + "7" * 50,
]

# Characters Python's unicodedata knows (assigned, not surrogates): tiktoken's Unicode
# tables are newer, so unassigned code points may already be letters there.
assigned_text = st.text(st.characters(blacklist_categories=("Cs", "Cn")), max_size=60)


@pytest.fixture(scope="module")
def corpus():
    if not os.path.exists(SHAKESPEARE):
        pytest.skip("../shared/data/tinyshakespeare is absent")
    with open(SHAKESPEARE, encoding="utf-8") as fh:
        return fh.read()


@pytest.fixture(scope="module")
def trained(corpus):
    mixed = corpus[:200_000] + " ".join(TRICKY) * 20
    return BPETokenizer().train(mixed, 1024, special_tokens=["<|endoftext|>", "<|pad|>"])


@pytest.fixture(scope="module")
def oracle(trained):
    tiktoken = pytest.importorskip("tiktoken")
    return tiktoken.Encoding("fastml-test", pat_str=GPT2_PATTERN,
                             mergeable_ranks=trained.mergeable_ranks,
                             special_tokens=trained.special_tokens)


def _pieces(text):
    data = text.encode("utf-8")
    joined, bounds = _Splitter(GPT2_PATTERN).pieces(text, data)
    return [joined[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:])]


@pytest.mark.parametrize("text", TRICKY)
def test_split_matches_reference(text):
    assert _pieces(text) == reference.gpt2_split(text)
    assert "".join(_pieces(text)) == text


@settings(max_examples=20, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_split_matches_reference_any_text(text):
    assert _pieces(text) == reference.gpt2_split(text)


def test_train_matches_reference():
    rng = np.random.default_rng(0)
    words = ["low", "lower", "newest", "widest", "aaaa", "ab", "ba", "é", "l'été", " 12"]
    text = " ".join(rng.choice(words, 400)) + " aaaaaaa bbbbbb ababab"
    fast = BPETokenizer().train(text, 330)
    naive = reference.BPETokenizer().train(text, 330)
    assert fast.merges.tolist() == [list(m) for m in naive.merges]
    assert list(fast.mergeable_ranks) == naive.tokens
    assert fast.encode(text) == naive.encode(text)


@pytest.mark.parametrize("seed", range(3))
def test_train_matches_reference_random_words(seed):
    """Small alphabets: many ties, overlapping pairs (aaa), long merge chains."""
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abc"), rng.integers(1, 8))) for _ in range(12)]
    text = " ".join(rng.choice(words, 300))
    fast = BPETokenizer().train(text, 360)
    naive = reference.BPETokenizer().train(text, 360)
    assert fast.merges.tolist() == [list(m) for m in naive.merges]
    assert len(fast.mergeable_ranks) == 256 + len(fast.merges)


def test_train_stops_when_no_pair_is_left():
    tok = BPETokenizer().train("ab ab", 10_000)
    assert list(tok.mergeable_ranks)[256:] == [b"ab", b" ab"]
    assert tok.n_vocab == 258 and len(tok.merges) == 2


@pytest.mark.parametrize("text", TRICKY + ["<|endoftext|> and <|pad|>"])
def test_encode_matches_tiktoken(trained, oracle, text):
    assert trained.encode(text) == oracle.encode_ordinary(text)


def test_long_pieces_match_tiktoken_and_reference(trained, oracle):
    """Pieces above 64 bytes merge through a heap: same ids as the linear rule."""
    rng = np.random.default_rng(2)
    naive = reference.BPETokenizer()
    naive.tokens = list(trained.mergeable_ranks)
    for text in ["ab" * 700, "".join(rng.choice(list("etaoinshrdlu"), 1500)), "a" * 999,
                 " " + "".join(rng.choice(list("thequickbrownfox"), 65)), "9" * 200]:
        ids = trained.encode(text)
        assert ids == oracle.encode_ordinary(text)
        assert ids == naive.encode(text)


def test_encode_from_threads(trained, corpus):
    """Encoding releases the GIL; concurrent calls on one tokenizer share no buffers."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [corpus[k * 5000:(k + 1) * 5000] + "ab" * (100 * k + 40) for k in range(8)]
    expected = [trained.encode(t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(trained.encode, texts * 3)) == expected * 3


def test_encode_corpus_matches_tiktoken(trained, oracle, corpus):
    held_out = corpus[-100_000:]
    assert trained.encode(held_out) == oracle.encode_ordinary(held_out)


@settings(max_examples=20, deadline=None)
@given(assigned_text)
def test_encode_matches_tiktoken_any_text(trained, oracle, text):
    assert trained.encode(text) == oracle.encode_ordinary(text)


def test_special_tokens_match_tiktoken(trained, oracle):
    text = "a<|endoftext|>b <|pad|><|pad|> <|endoftext|"
    assert trained.encode(text, allowed_special="all") == \
        oracle.encode(text, allowed_special="all")
    assert trained.encode(text, allowed_special={"<|pad|>"}) == \
        oracle.encode(text, allowed_special={"<|pad|>"}, disallowed_special=())
    assert trained.encode(text) == oracle.encode_ordinary(text)
    ids = trained.encode(text, allowed_special="all")
    assert trained.special_tokens["<|endoftext|>"] in ids
    assert trained.decode(ids) == text


def test_from_ranks_with_shuffled_ranks_matches_tiktoken(trained, corpus):
    """Arbitrary ranks (not training order, bytes not at their own value)."""
    tiktoken = pytest.importorskip("tiktoken")
    tokens = list(trained.mergeable_ranks)
    order = np.random.default_rng(1).permutation(len(tokens))
    ranks = {tokens[k]: int(r) for k, r in enumerate(order)}
    tok = BPETokenizer.from_ranks(ranks)
    enc = tiktoken.Encoding("shuffled", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                            special_tokens={})
    text = corpus[:30_000] + " ".join(TRICKY)
    assert tok.encode(text) == enc.encode_ordinary(text)
    assert tok.decode(tok.encode(text)) == text


def test_regex_pattern_matches_tiktoken(corpus):
    tiktoken = pytest.importorskip("tiktoken")
    pattern = r"[A-Za-z]+| ?[0-9]+|[^A-Za-z0-9]+"
    text = corpus[:20_000]
    tok = BPETokenizer().train(text, 400, pattern=pattern)
    enc = tiktoken.Encoding("ascii", pat_str=pattern, mergeable_ranks=tok.mergeable_ranks,
                            special_tokens={})
    sample = corpus[20_000:25_000] + " 42 a1b2"
    assert tok.encode(sample) == enc.encode_ordinary(sample)
    assert tok.decode(tok.encode(sample)) == sample


@settings(max_examples=20, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_round_trip_any_text(trained, text):
    assert trained.decode(trained.encode(text)) == text
    assert trained.decode(trained.encode(text, allowed_special="all")) == text


def test_save_load(trained, tmp_path):
    path = tmp_path / "bpe.json"
    trained.save(path)
    loaded = BPETokenizer.load(path)
    text = " ".join(TRICKY) + "<|pad|>"
    assert loaded.encode(text, allowed_special="all") == \
        trained.encode(text, allowed_special="all")
    assert loaded.mergeable_ranks == trained.mergeable_ranks
    assert loaded.special_tokens == trained.special_tokens
    np.testing.assert_array_equal(loaded.merges, trained.merges)
    assert loaded.pattern == GPT2_PATTERN and loaded.n_vocab == trained.n_vocab == 1026


def test_bad_input(trained, tmp_path):
    with pytest.raises(NotFittedError, match="not trained"):
        BPETokenizer().encode("x")
    with pytest.raises(ValueError, match="not trained"):
        BPETokenizer().decode([1])
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer().train("abc", 255)
    with pytest.raises(TypeError, match="vocab_size"):
        BPETokenizer().train("abc", 300.0)
    with pytest.raises(TypeError, match="text"):
        BPETokenizer().train(b"abc", 300)
    with pytest.raises(TypeError, match="text"):
        trained.encode(b"abc")
    with pytest.raises(ValueError, match="surrogate"):
        trained.encode("a\ud800b")
    with pytest.raises(ValueError, match="ids"):
        trained.decode([0, trained.n_vocab])
    with pytest.raises(ValueError, match="ids"):
        trained.decode([-1])
    with pytest.raises(ValueError, match="ids"):
        trained.decode([[1, 2]])
    with pytest.raises(ValueError, match="allowed_special"):
        trained.encode("x", allowed_special={"<|nope|>"})
    with pytest.raises(ValueError, match="special_tokens"):
        BPETokenizer().train("abc", 300, special_tokens=[""])
    with pytest.raises(ValueError, match="special_tokens"):
        BPETokenizer.from_ranks({bytes([b]): b for b in range(256)},
                                special_tokens={"<|x|>": 3})
    with pytest.raises(ValueError, match="256 single bytes"):
        BPETokenizer.from_ranks({bytes([b]): b for b in range(255)})
    with pytest.raises(ValueError, match="ranks"):
        BPETokenizer.from_ranks({bytes([b]): b + 1 for b in range(256)})
    with pytest.raises(ValueError, match="pattern"):
        try:
            import regex  # noqa: F401
            BPETokenizer().train("abc", 300, pattern="(")
        except ImportError:
            BPETokenizer().train("abc", 300, pattern=r"\p{L}+")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="path"):
        BPETokenizer.load(bad)
    assert trained.decode([]) == "" and trained.encode("") == []
