"""Raises in fastml/models/ that are not single-argument checks (see __init__.py)."""
RAISES = {
    "fastml/models/_autoencoder.py": {
        "cross-argument: decoder's ends vs encoder's": 2,
    },
    "fastml/models/_bert.py": {
        "cross-argument: input_ids' length vs the config's max_position_embeddings": 1,
    },
    "fastml/models/_conv_denoiser.py": {
        "cross-argument: x's batch times the model's channels past the kernels' 32-bit "
        "index limit": 1,
    },
    "fastml/models/_diffusion.py": {
        "cross-argument: y given to a model without class conditioning": 1,
    },
    "fastml/models/_gpt.py": {
        "cross-argument: idx's length vs the config's block_size": 1,
    },
}
