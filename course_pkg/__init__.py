"""course_pkg: the companion package of *Output Transformations in Deep Networks*.

One module per concern:

- ``transforms``  output transformations g (identity, relu, softplus, sigmoid, softmax, ...)
- ``losses``      losses on raw outputs (mse, bce_with_logits, cross_entropy) and the naive pairings
- ``data``        seeded synthetic data sets
- ``models``      a small MLP that emits raw outputs
- ``training``    a seeded training loop with loss history
- ``gradients``   a gradient-flow probe
- ``plotting``    figures in one style
- ``runtime``     device and seeding helpers
"""
__version__ = "0.1.0"
