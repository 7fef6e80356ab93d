"""A synthetic preference task with a known reward rule, so every RLHF stage can be
checked against ground truth.

Text is a first-order Markov chain over a small alphabet (transition rows drawn from a
Dirichlet with a seed): the "pretraining" language that supervised fine-tuning learns.
A completion's true reward is the number of times it contains the target character.
Preference pairs are two completions of one prompt, labelled by Bradley-Terry sampling
from the rule: P(a preferred to b) = sigmoid(scale (r(a) - r(b))).
"""

import numbers
from dataclasses import dataclass

import numpy as np

from fastml._validation import (
    check_array,
    check_dtype_kind,
    check_instance,
    check_option,
    check_positive_int,
    check_random_state,
    check_scalar,
    check_shape,
)

__all__ = ["CharCountTask", "PreferencePairs"]


@dataclass
class PreferencePairs:
    """Preference data: ``prompts`` (n, P) int token ids, ``chosen`` and ``rejected``
    completions (n, C), and their validity masks (n, C) (True = token, False = padding
    after the completion's end; None = all valid)."""

    prompts: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    chosen_mask: np.ndarray = None
    rejected_mask: np.ndarray = None

    def __post_init__(self):
        self.prompts = _token_array(self.prompts, "prompts")
        self.chosen = _token_array(self.chosen, "chosen")
        self.rejected = _token_array(self.rejected, "rejected")
        n = len(self.prompts)
        for name in ("chosen", "rejected"):
            tokens = getattr(self, name)
            if len(tokens) != n:
                raise ValueError(f"{name} has {len(tokens)} rows, prompts has {n}")
            mask = getattr(self, name + "_mask")
            setattr(self, name + "_mask", _completion_mask(mask, tokens.shape,
                                                           name + "_mask"))

    def __len__(self):
        return len(self.prompts)

    def subset(self, index):
        """The pairs at ``index`` (an int array or a slice)."""
        return PreferencePairs(self.prompts[index], self.chosen[index], self.rejected[index],
                               self.chosen_mask[index], self.rejected_mask[index])


def _token_array(a, name):
    a = check_array(a, name, ndim=2, dtype=None, finite=False)
    return check_dtype_kind(a, name, "iu", "integer token ids").astype(np.int64, copy=False)


def _completion_mask(mask, shape, name):
    """A boolean (B, C) mask of valid completion tokens, each row a prefix (valid tokens
    then padding), at least one valid token per row."""
    if mask is None:
        return np.ones(shape, bool)
    mask = check_shape(check_array(mask, name, ndim=2, dtype=None), name,
                       tuple(shape)).astype(bool)
    if shape[1] and not mask[:, 0].all():
        raise ValueError(f"{name} must have at least one valid token per row")
    if np.any(mask[:, 1:] & ~mask[:, :-1]):
        raise ValueError(f"{name} rows must be valid tokens followed by padding "
                         "(no True after a False)")
    return mask


class CharCountTask:
    """Character-level task whose true reward counts a target character.

    Parameters
    ----------
    alphabet : str
        The characters (token id = position in the string).
    target : str
        The rewarded character (one of ``alphabet``).
    prompt_length, completion_length : int
    concentration : float > 0
        Dirichlet concentration of the Markov chain's transition rows (small = peaked,
        a more predictable language).
    scale : float > 0
        Bradley-Terry sharpness of the preference labels.
    random_state : int or Generator
        Fixes the transition matrix.
    """

    def __init__(self, alphabet="abcdefgh", target="a", prompt_length=4,
                 completion_length=8, concentration=0.5, scale=1.0, random_state=0):
        check_instance(alphabet, "alphabet", str, "a string")
        if len(set(alphabet)) != len(alphabet) or len(alphabet) < 2:
            raise ValueError(f"alphabet must be a string of >= 2 distinct characters, "
                             f"got {alphabet!r}")
        check_option(target, "target", tuple(alphabet))  # one character of alphabet
        self.alphabet = alphabet
        self.target = target
        self.target_id = alphabet.index(target)
        self.prompt_length = check_positive_int(prompt_length, "prompt_length")
        self.completion_length = check_positive_int(completion_length, "completion_length")
        concentration = float(check_scalar(concentration, "concentration", numbers.Real,
                                           min_val=0, include_boundaries="neither"))
        self.scale = float(check_scalar(scale, "scale", numbers.Real, min_val=0,
                                        include_boundaries="neither"))
        rng = check_random_state(random_state)
        V = len(alphabet)
        self.transition = rng.dirichlet(np.full(V, concentration), size=V)
        self.start = np.full(V, 1.0 / V)

    @property
    def vocab_size(self):
        return len(self.alphabet)

    @property
    def sequence_length(self):
        return self.prompt_length + self.completion_length

    def encode(self, text):
        """Token ids (int64) of a string."""
        return np.array([self.alphabet.index(ch) for ch in text], np.int64)

    def decode(self, ids):
        """The string of a 1-D array of token ids."""
        return "".join(self.alphabet[i] for i in np.asarray(ids).ravel())

    def _continue(self, first, length, rng):
        """Markov-chain continuations of ``length`` tokens after the tokens ``first``."""
        out = np.empty((len(first), length), np.int64)
        cdf = np.cumsum(self.transition, axis=1)
        prev = first
        for t in range(length):
            u = rng.random(len(first))[:, None]
            prev = np.minimum((cdf[prev] <= u).sum(axis=1), self.vocab_size - 1)
            out[:, t] = prev
        return out

    def sample_text(self, n, random_state=None):
        """``n`` sequences of prompt_length + completion_length tokens from the chain
        (the supervised fine-tuning corpus), int64 (n, T)."""
        n = check_positive_int(n, "n")
        rng = check_random_state(random_state)
        first = rng.integers(0, self.vocab_size, n)
        rest = self._continue(first, self.sequence_length - 1, rng)
        return np.concatenate([first[:, None], rest], axis=1)

    def sample_prompts(self, n, random_state=None):
        """``n`` prompts (n, prompt_length) from the chain."""
        return self.sample_text(n, random_state)[:, :self.prompt_length].copy()

    def sample_completions(self, prompts, random_state=None):
        """Chain continuations (n, completion_length) of each prompt's last token."""
        prompts = _token_array(prompts, "prompts")
        return self._continue(prompts[:, -1], self.completion_length,
                              check_random_state(random_state))

    def reward(self, completions, mask=None):
        """The true rule: the number of target characters in each completion (float64)."""
        completions = _token_array(completions, "completions")
        mask = _completion_mask(mask, completions.shape, "mask")
        return ((completions == self.target_id) & mask).sum(axis=1).astype(np.float64)

    def preference_pairs(self, n, random_state=None, labels="bradley_terry"):
        """``n`` pairs of chain completions of chain prompts.

        ``labels="bradley_terry"``: the first completion is chosen with probability
        sigmoid(scale (r(a) - r(b))) (noisy labels, the training data); ``"rule"``: the
        one with the higher true reward is chosen and tied pairs are redrawn (a noise-free
        held-out set, on which accuracy is agreement with the rule).
        """
        n = check_positive_int(n, "n")
        check_option(labels, "labels", ("bradley_terry", "rule"))
        rng = check_random_state(random_state)
        prompts, a, b = [], [], []
        while sum(len(p) for p in prompts) < n:
            p = self.sample_prompts(n, rng)
            ca, cb = self.sample_completions(p, rng), self.sample_completions(p, rng)
            ra, rb = self.reward(ca), self.reward(cb)
            if labels == "rule":
                keep = ra != rb
                first = ra > rb
            else:
                keep = np.ones(n, bool)
                first = rng.random(n) < 1 / (1 + np.exp(-self.scale * (ra - rb)))
            prompts.append(p[keep])
            a.append(np.where(first[:, None], ca, cb)[keep])
            b.append(np.where(first[:, None], cb, ca)[keep])
        return PreferencePairs(np.concatenate(prompts)[:n], np.concatenate(a)[:n],
                               np.concatenate(b)[:n])
