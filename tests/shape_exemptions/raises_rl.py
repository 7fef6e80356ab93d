"""fastml.rl's raise statements that are not single-argument checks (see __init__.py)."""

RAISES = {
    "fastml/rl/_dp.py": {
        "cross-argument: R given with a Gymnasium table, missing with an array P, or not of "
        "P's (S, A) / (S, A, S) shape": 3,
        "data content: a transition table's structure (same actions in every state, valid "
        "outcomes, probabilities summing to 1) and stochastic rows of P and of a policy": 5,
    },
    "fastml/rl/_dqn.py": {
        "state: sampling a replay buffer before anything was added": 1,
    },
    "fastml/rl/envs/_core.py": {
        "cross-argument: keyword arguments for an environment id that takes none; a list of "
        "seeds whose length is not num_envs": 2,
        "re-raise: Gymnasium's error for an unknown env_id, re-raised naming env_id": 1,
    },
    "fastml/rl/envs/_spaces.py": {
        "cross-argument: a Box bound whose shape is not the shape argument's; low above "
        "high": 2,
    },
}
