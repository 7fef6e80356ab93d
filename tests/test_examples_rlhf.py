"""Shortened run of examples/rlhf_tiny.py (the full pipeline: SFT, reward model, PPO,
DPO) on two seeds.

Margins from 8 seeds of the example's settings (seeds 0-7): reward-model accuracy vs the
rule 0.948-1.0; true-rule reward gain of PPO 1.70-3.52 (mean 2.6), of DPO 0.82-1.83;
held-out DPO implicit-reward margin 0.11-0.23; final KL to the reference 1.9-6.0 for
target 3 (6 of 8 seeds within 1.5 x target). The bounds below sit below every seed's value.
"""

import importlib
from pathlib import Path

import pytest

import fastml

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("seed", [0, 1])
def test_rlhf_tiny_pipeline(monkeypatch, seed):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    example = importlib.import_module("rlhf_tiny")
    with fastml.threads(1):
        r = example.main(seed=seed, verbose=False)
    assert r["rm_accuracy"] >= 0.9
    assert r["reward_ppo"] - r["reward_before"] >= 1.0
    assert r["kl_ppo"] <= 2.5 * 3.0
    assert r["reward_dpo"] - r["reward_before"] >= 0.3
    assert r["dpo_margin"] >= 0.05
