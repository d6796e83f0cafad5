"""chainrule's scalar autograd engine: Values that record each op and its local derivatives.

Note: this package shadows the unrelated PyPI package also named ``autograd``.
"""

from .gradcheck import GradcheckError, gradcheck
from .ops import OPS, Op
from .render import draw, render_steps, to_dot
from .value import Value, apply, backward, linear, logsumexp, sum_values, topological_order

__all__ = [
    "OPS",
    "GradcheckError",
    "Op",
    "Value",
    "apply",
    "backward",
    "draw",
    "gradcheck",
    "linear",
    "logsumexp",
    "render_steps",
    "sum_values",
    "to_dot",
    "topological_order",
]
