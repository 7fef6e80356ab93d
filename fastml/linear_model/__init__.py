"""Linear models for regression and classification (scikit-learn's names and semantics).

- :class:`LinearRegression` (QR / SVD least squares), :class:`Ridge` (Cholesky / SVD),
- :class:`Lasso`, :class:`ElasticNet`, :func:`lasso_path`, :func:`enet_path`
  (compiled coordinate descent with duality-gap stopping),
- :class:`LogisticRegression` (binary and multinomial; Newton with a Cholesky solve of
  the Hessian, or L-BFGS; loss and gradient in one compiled pass),
- :class:`Perceptron` (Rosenblatt's rule, compiled, one-vs-rest).
"""

from fastml.linear_model._coordinate_descent import ElasticNet, Lasso, enet_path, lasso_path
from fastml.linear_model._least_squares import LinearRegression, Ridge
from fastml.linear_model._logistic import LogisticRegression
from fastml.linear_model._perceptron import Perceptron

__all__ = ["ElasticNet", "Lasso", "LinearRegression", "LogisticRegression", "Perceptron",
           "Ridge", "enet_path", "lasso_path"]
