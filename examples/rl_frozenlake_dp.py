"""
Value iteration on FrozenLake 8x8
=================================

The optimal value function as a heat map, the greedy policy as arrows. See
:doc:`/advanced/mdp_dynamic_programming`.

::

    python examples/rl_frozenlake_dp.py [--gamma 0.99] [--out frozenlake.png]

The table is the compiled environment's ``env.unwrapped.P`` (Gymnasium's format, so
``gymnasium.make("FrozenLake8x8-v1").unwrapped.P`` works the same); policy iteration
and the exact linear solve give the same values to 1e-10. The run takes well under a
second, so the documentation build (``FASTML_EXAMPLE_QUICK=1``) runs it unchanged and only
skips writing the PNG.
"""

# %%
# Solve and draw
# --------------
# Value iteration stops when gamma / (1 - gamma) times the sup-norm change is below 1e-10;
# policy iteration alternates exact evaluation and greedy improvement.
import argparse
import os

import numpy as np

import fastml.rl as rl

ARROWS = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}   # left, down, right, up (dx, dy)


def main(gamma=0.99, out="rl_frozenlake_dp.png", verbose=True):
    """Solve and plot (figure left open; saved to ``out`` unless None); return (V, policy)."""
    env = rl.make("FrozenLake8x8-v1")
    V, policy = rl.value_iteration(env, gamma=gamma, tol=1e-10)
    V_pi, _ = rl.policy_iteration(env, gamma=gamma)
    if verbose:
        print(f"V(start) = {V[0]:.4f}; |value iteration - policy iteration| = "
              f"{np.abs(V - V_pi).max():.1e}")
    import matplotlib.pyplot as plt

    desc = [row for row in rl.envs._toy_text.FROZEN_LAKE_MAPS["8x8"]]
    fig, ax = plt.subplots(figsize=(5, 5))
    im = ax.imshow(V.reshape(8, 8), cmap="viridis")
    for s in range(64):
        r, c = divmod(s, 8)
        letter = desc[r][c]
        if letter in "HG":
            ax.text(c, r, letter, ha="center", va="center", color="white", fontsize=12)
            continue
        dx, dy = ARROWS[int(policy[s])]
        ax.arrow(c - 0.25 * dx, r - 0.25 * dy, 0.3 * dx, 0.3 * dy, head_width=0.15,
                 color="white", length_includes_head=True)
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set(title=f"FrozenLake 8x8: V* and greedy policy (gamma {gamma})",
           xticks=[], yticks=[])
    fig.tight_layout()
    if out:
        fig.savefig(out, dpi=120)
    return V, policy


if __name__ == "__main__":
    quick = os.environ.get("FASTML_EXAMPLE_QUICK") == "1"
    parser = argparse.ArgumentParser(description="Value iteration on FrozenLake 8x8")
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--out", default=None if quick else "rl_frozenlake_dp.png")
    args = parser.parse_args()
    main(args.gamma, args.out)
