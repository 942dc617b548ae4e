"""The book's MNIST experiments (book §5.3-5.4) and its edge-detection demo (5.1.7).

- :mod:`convcalc.train.data`: MNIST from IDX files or the book's ``mnist.json.gz``,
  split as the book does (train 1000 / dev 200 / test 200), preprocessed as the book.
- :mod:`convcalc.train.runner`: the book's training protocol (RunnerV3), seeded.
- :mod:`convcalc.train.experiments`: the three experiments over several seeds.
- :mod:`convcalc.train.edges`: Laplacian edge detection with the book's ``Conv2D``.

- :mod:`convcalc.train.rf_inputs`: what ``convcalc rf`` draws on (an image or an MNIST digit, saved weights).

May import ``convcalc.analysis`` (a step's predicted cost) and ``convcalc.models``.  Submodules import
paddle; this package itself does not.
"""

from __future__ import annotations

__all__ = ["data", "runner", "experiments", "edges", "models"]
