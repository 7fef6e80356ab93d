"""Raises in fastml/rlhf/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/rlhf/_dpo.py": {
        "cross-argument: ref_policy is needed for the loss_type, and must not be the "
        "policy": 2,
        "cross-argument: label_smoothing must be 0 for loss_type 'hinge' / 'ipo'": 1,
    },
    "fastml/rlhf/_logprobs.py": {
        "cross-argument: completions' rows vs prompts'": 1,
        "cross-argument: prompts + completions need a window longer than the model's "
        "block_size": 1,
    },
    "fastml/rlhf/_losses.py": {
        "cross-argument: label_smoothing must be 0 for loss_type 'hinge' / 'ipo'": 1,
        "data content: the mask leaves fewer valid entries than the loss or whitening "
        "needs": 3,
    },
    "fastml/rlhf/_ppo.py": {
        "cross-argument: ref_policy must not be the policy and must share its vocabulary": 2,
        "cross-argument: missing_eos_score needs an eos_token_id": 1,
    },
    "fastml/rlhf/_sft.py": {
        "cross-argument: tokens' columns vs the model's block_size": 1,
    },
    "fastml/rlhf/_task.py": {
        "cross-argument: chosen / rejected rows vs prompts'": 1,
        "data content: a completion mask row must start valid and be a prefix (no True "
        "after a False)": 2,
        "data content: alphabet must hold >= 2 distinct characters": 1,
    },
}
