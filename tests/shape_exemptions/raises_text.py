"""Raises in fastml/text.py that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/text.py": {
        "data content: a str with an unpaired surrogate (no UTF-8 encoding)": 1,
        "re-raise: pattern is no valid regex (re's / regex's error, with the name)": 2,
        "data content: special_tokens' entries are distinct": 1,
        "cross-argument: special ids vs the number of ordinary tokens": 1,
        "data content: mergeable_ranks' ranks are 0..n-1 and hold all 256 bytes": 2,
        "cross-argument: allowed_special vs this tokenizer's special tokens": 1,
        "cross-argument: ids vs this tokenizer's vocabulary (gaps before the special "
        "ids)": 1,
        "data content: a file's format (not a saved BPETokenizer)": 2,
    },
}
