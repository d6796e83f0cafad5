"""chainrule's scalar autograd engine: Values that record each op and its local derivatives.

Note: this package shadows the unrelated PyPI package also named ``autograd``.
"""

from .check import Verdict, check, check_all
from .compile import CompiledGraph, compile_graph
from .core.construct import apply, linear, logsumexp, node_constructor, sum_values
from .core.gcpause import no_gc
from .core.graph import Graph
from .core.ops import OPS, Op, define_op
from .core.value import Value, backward, topological_order
from .explain import Explanation, Factor, Path, explain
from .explore import Explorer, explore
from .gradcheck import GradcheckError, gradcheck
from .higher import grad, hessian
from .render import draw, render_steps, to_dot
from .stepping import Backprop, Step, Term
from .torch_compare import Comparison, compare_with_torch

__all__ = [
    "Backprop",
    "CompiledGraph",
    "Comparison",
    "Explanation",
    "Explorer",
    "Factor",
    "GradcheckError",
    "Graph",
    "OPS",
    "Op",
    "Path",
    "Step",
    "Term",
    "Value",
    "Verdict",
    "apply",
    "backward",
    "check",
    "check_all",
    "compare_with_torch",
    "compile_graph",
    "define_op",
    "draw",
    "explain",
    "explore",
    "grad",
    "gradcheck",
    "hessian",
    "linear",
    "logsumexp",
    "no_gc",
    "node_constructor",
    "render_steps",
    "sum_values",
    "to_dot",
    "topological_order",
]
