"""course_pkg: the companion package of *Output Transformations in Deep Networks*.

One module per concern:

- ``transforms``      output transformations g (identity, relu, softplus, sigmoid, softmax, ...)
- ``losses``          losses on raw outputs (mse, bce_with_logits, cross_entropy), distance losses (triplet,
                      contrastive), the scaled-cosine softmax, and the naive pairings
- ``data``            seeded synthetic data sets, one per task
- ``models``          a small MLP that emits raw outputs
- ``training``        a seeded training loop with loss history
- ``gradients``       gradient-flow probes: does a transformation pass a useful gradient?
- ``estimators``      straight-through and soft thresholds
- ``decisions``       binary decisions: probability thresholds as logit cuts
- ``metrics``         accuracy, confusion counts, and the uncertainty of a measured rate
- ``inference``       turn raw outputs into predictions, per task
- ``embeddings``      distances, triplet sampling, triplet accuracy and pair verification for embeddings
- ``heteroscedastic`` mean and variance heads, Gaussian negative log-likelihood
- ``calibration``     temperature scaling, reliability curves, expected calibration error
- ``gumbel``          Gumbel-softmax and straight-through sampling of discrete outputs
- ``numerics``        where a floating-point function changes behaviour (bisection on representable numbers)
- ``plotting``        figures in one style
- ``runtime``         device and seeding helpers
- ``homework``        exercise checks, student notebooks, grading
"""
__version__ = "0.1.0"
