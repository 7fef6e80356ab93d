"""
RLHF end to end on a tiny character GPT
=======================================

SFT, a reward model, PPO and DPO in a minute on a laptop CPU. See
:doc:`/sequences/reward_model`, :doc:`/sequences/ppo_rlhf` and :doc:`/sequences/dpo`.

1. SFT: fit a 1-layer GPT to Markov-chain text (fastml.rlhf.CharCountTask).
2. Reward model: GPT backbone (a copy of the SFT model) + scalar head, Bradley-Terry loss
   on preference pairs labelled by the hidden rule "more 'a' characters is better".
3. PPO against the reward model with a KL penalty to the SFT model (adaptive coefficient).
4. DPO on fresh preference pairs, the SFT model as reference.

Prints the reward model's held-out accuracy (against the rule), the true-rule reward of
samples before and after PPO and DPO, the KL to the reference, and samples, and plots
the PPO iterations (reward-model score and KL to the reference).

::

    python examples/rlhf_tiny.py [--seed 0]

The documentation build (``FASTML_EXAMPLE_QUICK=1``) runs every stage on less data (SFT
100 steps, 1024 reward-model pairs, 20 PPO iterations, 512 DPO pairs).
"""

# %%
# The pipeline
# ------------
# The hidden rule ("more 'a' characters is better") labels the preference pairs, so the
# reward model's accuracy and the policies' true reward can be measured exactly.
import argparse
import copy
import os

import numpy as np

import fastml
from fastml import rlhf
from fastml.models import GPT, GPTConfig


def kl_to_reference(policy, reference, prompts, completions):
    """Mean sequence KL estimate E_y~pi [log pi(y|x) - log pi_ref(y|x)] on samples of pi."""
    pol = rlhf.sequence_logprobs(policy, prompts, completions).logps
    ref = rlhf.sequence_logprobs(reference, prompts, completions).logps
    return float(np.mean(pol - ref))


def evaluate(task, policy, reference, prompts, seed):
    """(true-rule reward, KL to the reference, completions) on sampled completions."""
    completions = policy.generate(prompts, task.completion_length, seed=seed)
    completions = completions[:, task.prompt_length:]
    return (float(task.reward(completions).mean()),
            kl_to_reference(policy, reference, prompts, completions), completions)


def main(seed=0, sft_steps=150, rm_pairs=2048, rm_epochs=3, ppo_iterations=50,
         ppo_batch=64, dpo_pairs=1024, dpo_epochs=1, target_kl=3.0, share_backbone=True,
         n_layer=1, n_embd=32, verbose=True):
    """Run the pipeline; returns a dict of the measured numbers."""
    say = print if verbose else (lambda *a, **k: None)
    task = rlhf.CharCountTask(random_state=seed)
    config = GPTConfig(block_size=task.sequence_length, vocab_size=task.vocab_size,
                       n_layer=n_layer, n_head=2, n_embd=n_embd, dropout=0.0)
    sft = GPT(config, random_state=seed)
    losses = rlhf.sft_train(sft, task.sample_text(4096, seed), steps=sft_steps,
                            batch_size=64, learning_rate=1e-2, random_state=seed)
    say(f"SFT: cross-entropy {losses[0]:.3f} -> {np.mean(losses[-10:]):.3f}")
    held_out = task.sample_prompts(256, seed + 1)
    before, _, _ = evaluate(task, sft, sft, held_out, seed + 2)

    reward_model = rlhf.RewardModel(copy.deepcopy(sft), random_state=seed)
    trainer = rlhf.RewardTrainer(reward_model, learning_rate=3e-3, batch_size=64,
                                 epochs=rm_epochs, random_state=seed)
    trainer.train(task.preference_pairs(rm_pairs, seed + 3))
    rm_accuracy = trainer.evaluate(task.preference_pairs(500, seed + 4, labels="rule"))
    say(f"reward model: held-out accuracy vs the rule {rm_accuracy['accuracy']:.3f}")

    policy = copy.deepcopy(sft)
    # A slow KL controller: with 64 rollouts per iteration and horizon 384 the coefficient
    # moves by at most 0.2 * 64 / 384 = 3.3% per iteration. At horizon 64 (20%) it lags the
    # policy and KL oscillated between 0 and 14 nats (target 3) over the iterations.
    ppo = rlhf.PPOTrainer(policy, sft, reward_model, max_new_tokens=task.completion_length,
                          share_backbone=share_backbone, learning_rate=5e-4,
                          mini_batch_size=32, ppo_epochs=2, init_kl_coef=0.3,
                          target_kl=target_kl, horizon=384, random_state=seed)
    prompt_rng = np.random.default_rng(seed + 5)
    train_kl, train_score = [], []
    for it in range(ppo_iterations):
        stats = ppo.step(task.sample_prompts(ppo_batch, prompt_rng))
        train_kl.append(stats["kl"])
        train_score.append(stats["score"])
        if verbose and (it + 1) % 10 == 0:
            say(f"  PPO {it + 1:3d}: score {stats['score']:+.3f}  KL {stats['kl']:.2f}  "
                f"kl_coef {stats['kl_coef']:.3f}  entropy {stats['entropy']:.3f}")
    ppo_reward, ppo_kl, ppo_samples = evaluate(task, policy, sft, held_out, seed + 2)

    dpo_policy = copy.deepcopy(sft)
    dpo = rlhf.DPOTrainer(dpo_policy, sft, beta=0.1, learning_rate=1e-3, batch_size=64,
                          epochs=dpo_epochs, random_state=seed)
    history = dpo.train(task.preference_pairs(dpo_pairs, seed + 6))
    dpo_reward, dpo_kl, _ = evaluate(task, dpo_policy, sft, held_out, seed + 2)
    # implicit-reward margin on held-out rule-labelled pairs, before (0) and after
    test_pairs = task.preference_pairs(500, seed + 7, labels="rule")
    dpo_margin = float(np.mean(dpo_margins(dpo, test_pairs)))

    say(f"true-rule reward ('{task.target}' count of {task.completion_length}): "
        f"SFT {before:.3f}, PPO {ppo_reward:.3f} (KL {ppo_kl:.2f}, target {target_kl}), "
        f"DPO {dpo_reward:.3f} (KL {dpo_kl:.2f})")
    say(f"DPO implicit-reward margin on held-out pairs: 0 -> {dpo_margin:.3f}")
    for prompt, completion in zip(held_out[:4], ppo_samples[:4]):
        say(f"  PPO sample: {task.decode(prompt)} | {task.decode(completion)}")
    return {"rm_accuracy": rm_accuracy["accuracy"], "reward_before": before,
            "reward_ppo": ppo_reward, "kl_ppo": ppo_kl, "reward_dpo": dpo_reward,
            "kl_dpo": dpo_kl, "kl_ppo_last10": float(np.mean(train_kl[-10:])),
            "dpo_margin": dpo_margin,
            "dpo_train_margin": history["reward_margin"][-1],
            "ppo_kl_curve": train_kl, "ppo_score_curve": train_score,
            "target_kl": target_kl}


# %%
# PPO's iterations
# ----------------
# The adaptive KL controller raises the penalty when the policy drifts past the target KL
# and lowers it below, while the reward model's score climbs.
def plot_ppo(result):
    """Reward-model score and KL per PPO iteration (matplotlib figure, left open)."""
    import matplotlib.pyplot as plt

    it = np.arange(1, len(result["ppo_score_curve"]) + 1)
    fig, (ax, ax_kl) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax.plot(it, result["ppo_score_curve"], "o-", ms=3)
    ax.set(xlabel="PPO iteration", ylabel="reward-model score", title="score of the rollouts")
    ax_kl.plot(it, result["ppo_kl_curve"], "o-", ms=3, color="C1")
    ax_kl.axhline(result["target_kl"], color="gray", ls="--", label="target KL")
    ax_kl.set(xlabel="PPO iteration", ylabel="KL to the SFT model (nats)",
              title="KL penalty at work")
    ax_kl.legend()
    fig.tight_layout()
    return fig


def dpo_margins(trainer, pairs):
    """beta (log-ratio of chosen - log-ratio of rejected) of a DPO trainer's policy."""
    ref_c, ref_r = trainer.reference_logps(pairs)
    pol_c = rlhf.sequence_logprobs(trainer.policy, pairs.prompts, pairs.chosen).logps
    pol_r = rlhf.sequence_logprobs(trainer.policy, pairs.prompts, pairs.rejected).logps
    return trainer.beta * ((pol_c - ref_c) - (pol_r - ref_r))


if __name__ == "__main__":
    quick = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
    parser = argparse.ArgumentParser(description="RLHF end to end on a tiny character GPT")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="kernel threads (1 is fastest for a model this small)")
    args = parser.parse_args()
    small = {"sft_steps": 100, "rm_pairs": 1024, "rm_epochs": 2, "ppo_iterations": 20,
             "dpo_pairs": 512} if quick else {}
    with fastml.threads(args.threads):
        plot_ppo(main(seed=args.seed, **small))
