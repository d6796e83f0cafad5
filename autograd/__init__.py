"""chainrule's scalar autograd engine: Values that record each op and its local derivatives.

Note: this package shadows the unrelated PyPI package also named ``autograd``.
"""

from .gradcheck import GradcheckError, gradcheck
from .ops import OPS, Op
from .value import Value, apply, backward, linear, logsumexp, sum_values, topological_order

__all__ = [
    "OPS",
    "GradcheckError",
    "Op",
    "Value",
    "apply",
    "backward",
    "gradcheck",
    "linear",
    "logsumexp",
    "sum_values",
    "topological_order",
]
