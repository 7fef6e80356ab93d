"""Docs page of each benchmark case, for the links of the HTML report.

Generated from the ``.. fastml-bench::`` directives of ``docs/`` by
``python docs/_ext/fastml_bench.py links``; ``tests/test_docs.py`` checks it
is current. Values are page paths relative to the site root, with the anchor."""

PAGES = {
    "attention/mha_forward": "sequences/attention.html#bench-attention-mha-forward",
    "attention/sdpa_backward_causal":
        "sequences/attention.html#bench-attention-sdpa-backward-causal",
    "attention/sdpa_forward": "sequences/attention.html#bench-attention-sdpa-forward",
    "cluster/kmeans_elkan": "unsupervised/kmeans.html#bench-cluster-kmeans-elkan",
    "cluster/kmeans_lloyd": "unsupervised/kmeans.html#bench-cluster-kmeans-lloyd",
    "conv/avg_pool2d_forward": "neural_networks/pooling.html#bench-conv-avg-pool2d-forward",
    "conv/conv2d_3x3_c64_backward":
        "neural_networks/convolution.html#bench-conv-conv2d-3x3-c64-backward",
    "conv/conv2d_3x3_c64_forward":
        "neural_networks/convolution.html#bench-conv-conv2d-3x3-c64-forward",
    "conv/conv2d_depthwise_forward":
        "neural_networks/convolution.html#bench-conv-conv2d-depthwise-forward",
    "conv/max_pool2d_backward": "neural_networks/pooling.html#bench-conv-max-pool2d-backward",
    "conv/max_pool2d_forward": "neural_networks/pooling.html#bench-conv-max-pool2d-forward",
    "decomposition/kernel_pca": "unsupervised/kernel_pca.html#bench-decomposition-kernel-pca",
    "decomposition/pca": "unsupervised/pca.html#bench-decomposition-pca",
    "diffusion/cnn_train": "advanced/ddpm.html#bench-diffusion-cnn-train",
    "diffusion/ddim_sample": "advanced/ddim.html#bench-diffusion-ddim-sample",
    "diffusion/mlp_train": "advanced/ddpm.html#bench-diffusion-mlp-train",
    "distributed/kmeans_blobs": "probabilistic/distributed.html#bench-distributed-kmeans-blobs",
    "distributed/nuts_kidiq_workers":
        "probabilistic/distributed.html#bench-distributed-nuts-kidiq-workers",
    "distributed/postfit_predict":
        "probabilistic/distributed.html#bench-distributed-postfit-predict",
    "gp/add_observations": "probabilistic/gaussian_processes.html#bench-gp-add-observations",
    "gp/fit": "probabilistic/gaussian_processes.html#bench-gp-fit",
    "gp/lml_grad": "probabilistic/gaussian_processes.html#bench-gp-lml-grad",
    "gp/predict_std": "probabilistic/gaussian_processes.html#bench-gp-predict-std",
    "gp/sparse_bound": "probabilistic/sparse_gp.html#bench-gp-sparse-bound",
    "gp/sparse_fit": "probabilistic/sparse_gp.html#bench-gp-sparse-fit",
    "graph/gat_cora_train": "advanced/gat.html#bench-graph-gat-cora-train",
    "graph/gcn_cora_train": "advanced/gcn.html#bench-graph-gcn-cora-train",
    "graph/spectral_embedding": "advanced/spectral_gnn.html#bench-graph-spectral-embedding",
    "graph/spmm_sum_powerlaw": "advanced/message_passing.html#bench-graph-spmm-sum-powerlaw",
    "linalg/cho_solve": "foundations/cholesky.html#bench-linalg-cho-solve",
    "linalg/chol_update": "foundations/cholesky.html#bench-linalg-chol-update",
    "linalg/cholesky": "foundations/cholesky.html#bench-linalg-cholesky",
    "linalg/eigsh_laplacian": "foundations/eigen_svd.html#bench-linalg-eigsh-laplacian",
    "linalg/pca_eigh_vs_svd": "foundations/eigen_svd.html#bench-linalg-pca-eigh-vs-svd",
    "linalg/truncated_svd": "foundations/eigen_svd.html#bench-linalg-truncated-svd",
    "linear_model/lasso": "supervised/lasso_elastic_net.html#bench-linear-model-lasso",
    "linear_model/logistic_10class_lbfgs":
        "supervised/logistic_regression.html#bench-linear-model-logistic-10class-lbfgs",
    "linear_model/logistic_10class_newton":
        "supervised/logistic_regression.html#bench-linear-model-logistic-10class-newton",
    "linear_model/logistic_binary_lbfgs":
        "supervised/logistic_regression.html#bench-linear-model-logistic-binary-lbfgs",
    "linear_model/logistic_binary_newton":
        "supervised/logistic_regression.html#bench-linear-model-logistic-binary-newton",
    "linear_model/ols": "supervised/linear_regression.html#bench-linear-model-ols",
    "linear_model/perceptron": "neural_networks/perceptron.html#bench-linear-model-perceptron",
    "linear_model/ridge": "supervised/linear_regression.html#bench-linear-model-ridge",
    "manifold/tsne_blobs": "unsupervised/tsne.html#bench-manifold-tsne-blobs",
    "manifold/tsne_digits": "unsupervised/tsne.html#bench-manifold-tsne-digits",
    "mcmc/ensemble_gauss10": "probabilistic/ensemble_slice.html#bench-mcmc-ensemble-gauss10",
    "mcmc/first_draw_cold": "probabilistic/metropolis.html#bench-mcmc-first-draw-cold",
    "mcmc/gibbs_nig": "probabilistic/conjugacy.html#bench-mcmc-gibbs-nig",
    "mcmc/hmc_gauss100": "probabilistic/hmc_nuts.html#bench-mcmc-hmc-gauss100",
    "mcmc/hmc_logistic": "probabilistic/hmc_nuts.html#bench-mcmc-hmc-logistic",
    "mcmc/nuts_gauss100": "probabilistic/hmc_nuts.html#bench-mcmc-nuts-gauss100",
    "mcmc/nuts_logistic": "probabilistic/hmc_nuts.html#bench-mcmc-nuts-logistic",
    "mcmc/rwmh_gauss100": "probabilistic/metropolis.html#bench-mcmc-rwmh-gauss100",
    "mcmc/rwmh_logistic": "probabilistic/metropolis.html#bench-mcmc-rwmh-logistic",
    "mixture/gmm_full": "unsupervised/gmm.html#bench-mixture-gmm-full",
    "nn/adam_step": "neural_networks/optimizers.html#bench-nn-adam-step",
    "nn/cnn_train_step": "neural_networks/residual.html#bench-nn-cnn-train-step",
    "nn/gelu": "neural_networks/activations.html#bench-nn-gelu",
    "nn/layer_norm": "neural_networks/normalization.html#bench-nn-layer-norm",
    "nn/layer_norm_backward": "neural_networks/normalization.html#bench-nn-layer-norm-backward",
    "nn/mlp_train_step": "neural_networks/mlp.html#bench-nn-mlp-train-step",
    "nn/softmax_cross_entropy": "neural_networks/activations.html#bench-nn-softmax-cross-entropy",
    "optimize/lbfgs_logistic": "foundations/gradient_descent.html#bench-optimize-lbfgs-logistic",
    "optimize/maros_meszaros_small":
        "foundations/constrained.html#bench-optimize-maros-meszaros-small",
    "rl/cartpole_random_steps": "advanced/vector_envs.html#bench-rl-cartpole-random-steps",
    "rl/ppo_cartpole": "advanced/ppo.html#bench-rl-ppo-cartpole",
    "rl/q_learning_taxi": "advanced/tabular_td.html#bench-rl-q-learning-taxi",
    "rl/value_iteration": "advanced/mdp_dynamic_programming.html#bench-rl-value-iteration",
    "rlhf/dpo_step": "sequences/dpo.html#bench-rlhf-dpo-step",
    "rlhf/ppo_generation": "sequences/ppo_rlhf.html#bench-rlhf-ppo-generation",
    "rlhf/ppo_iteration": "sequences/ppo_rlhf.html#bench-rlhf-ppo-iteration",
    "sequence/gru_forward_backward": "sequences/lstm_gru.html#bench-sequence-gru-forward-backward",
    "sequence/lstm_forward_backward":
        "sequences/lstm_gru.html#bench-sequence-lstm-forward-backward",
    "sequence/lstm_packed_forward_backward":
        "sequences/lstm_gru.html#bench-sequence-lstm-packed-forward-backward",
    "sequence/rnn_tanh_forward": "sequences/rnn.html#bench-sequence-rnn-tanh-forward",
    "sequence/rnn_tanh_forward_backward":
        "sequences/rnn.html#bench-sequence-rnn-tanh-forward-backward",
    "stats/fit_beta": "foundations/mle_map.html#bench-stats-fit-beta",
    "stats/fit_gamma": "foundations/mle_map.html#bench-stats-fit-gamma",
    "stats/fit_student_t": "foundations/mle_map.html#bench-stats-fit-student-t",
    "svm/linear_svc": "supervised/svm.html#bench-svm-linear-svc",
    "svm/svc_rbf": "supervised/svm.html#bench-svm-svc-rbf",
    "transformer/bpe_encode": "sequences/tokenizer.html#bench-transformer-bpe-encode",
    "transformer/bpe_train": "sequences/tokenizer.html#bench-transformer-bpe-train",
    "transformer/gpt_decode": "sequences/gpt.html#bench-transformer-gpt-decode",
    "transformer/gpt_prefill": "sequences/gpt.html#bench-transformer-gpt-prefill",
    "transformer/gpt_train_step": "sequences/gpt.html#bench-transformer-gpt-train-step",
    "transformer/scaling_law_fit": "sequences/scaling_laws.html#bench-transformer-scaling-law-fit",
    "variational/advi_logistic":
        "probabilistic/variational_inference.html#bench-variational-advi-logistic",
    "variational/bgm_digits": "probabilistic/bayesian_gmm.html#bench-variational-bgm-digits",
    "variational/vae_epoch_digits":
        "unsupervised/autoencoders_vae.html#bench-variational-vae-epoch-digits",
    "variational/vae_iwae_digits":
        "unsupervised/autoencoders_vae.html#bench-variational-vae-iwae-digits",
}
