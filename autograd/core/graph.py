"""Graph: one walk from a root gives what every reader needs, computed once and shared.

``g = Graph(E_total)`` walks the graph once (iteratively, linear in its size) and keeps the topological
order; the names, consumers, node kinds, folded views and d root / d node are derived from that order on
first use and cached. Every reader (``explain``, ``Backprop``, ``to_dot``/``draw``/``render_steps``,
``explore``, ``check``, ``grad``, ``compile_graph``) takes a root Value or a Graph: ``explain(g, w1);
draw(g)`` walk nothing again; what a reader derives and shares between its calls goes in ``cache``.

A Graph reflects the structure as it was when built: its nodes, their inputs and local derivatives
(fixed when a node is made), and the labels when the names are first used. ``data`` and ``grad`` are
always read live from the nodes. ``stale()`` says whether a label changed since; build a new Graph then.

Node kinds: ``output`` (the root), ``intermediate`` (any other node made by an op), ``parameter`` (a leaf
in ``params``, or, when ``params`` is not given, a labeled leaf whose label looks like nn's: ``W[1][0,1]``,
``b[1][0]``, a Neuron's ``w[0]``), ``input`` (any other labeled leaf), ``constant`` (an unlabeled leaf).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from .fold import Collapse, FoldedEdge, collapse_key, fold, kept_nodes
from .names import node_names
from .value import MANY, Value, topological_order

walks = 0  # full walks of a Value graph made so far (the tests count them: one per reader call)

KINDS = ("output", "intermediate", "parameter", "input", "constant")
# A parameter's label: nn's W[1][0,1], b[1][0], a Neuron's w[0]; or a hand-built graph's w1, b2, weight, theta.
_NN_PARAM = re.compile(r"(^|[.\s_])[Wwb]\[|^(?:[Ww]|b|weight|bias|theta)(?:_?\d+)?$")


def node_kind(v: Value, root: Value, params: Collection[Value] | None = None) -> str:
    """``output``, ``intermediate``, ``parameter`` (a leaf in ``params``, or without ``params`` a leaf labeled as
    one), ``input`` (another labeled leaf) or ``constant`` (an unlabeled leaf)."""
    if v is root:
        return "output"
    if v._a is not None:
        return "intermediate"
    if params is not None:
        if v in params:
            return "parameter"
    elif v.label is not None and _NN_PARAM.search(str(v.label)):
        return "parameter"
    return "input" if v.label is not None else "constant"


def _walk(root: Value) -> list[Value]:
    """Every node ``root`` depends on, inputs before the nodes that use them: ``topological_order``, the order
    backward() uses, so that a pass over it adds up every gradient in the same order and gives the same floats;
    counted in ``walks``."""
    global walks
    walks += 1
    return topological_order(root)


class Graph:
    """The graph of ``root``: its topological ``order``, ``names``, ``consumers``, node kinds and folded views.

    ``params`` (optional) are the leaves counted as parameters (see the module docstring).
    """

    def __init__(self, root: Value, params: Collection[Value] | None = None) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"Graph: root must be a Value, got {type(root).__name__}")
        self.root = root
        self.order: list[Value] = _walk(root)
        self.params: set[Value] | None = None if params is None else set(params)
        self._nodes: set[Value] | None = None
        self._index: dict[Value, int] | None = None
        self._names: dict[Value, str] | None = None
        self._labels: list | None = None
        self._consumers: dict[Value, list[Value]] | None = None
        self._positions: dict[Value, dict[Value, tuple[int, ...]]] = {}
        self._scanned: dict[Value, tuple[Value, tuple[int, ...]]] = {}  # a wide node's first question, answered
        self._kept: dict = {}
        self._folded: dict = {}
        self._grads: dict[Value, float] | None = None
        self.cache: dict = {}  # what readers derive from this graph and share between calls (their own keys)

    def __len__(self) -> int:
        return len(self.order)

    def __contains__(self, v: object) -> bool:
        return v in self.nodes

    def __iter__(self):
        return iter(self.order)

    def __repr__(self) -> str:
        return f"Graph({self.names[self.root]}: {len(self.order)} nodes)"

    @property
    def nodes(self) -> set[Value]:
        """The set of the graph's nodes."""
        if self._nodes is None:
            self._nodes = set(self.order)
        return self._nodes

    @property
    def index(self) -> dict[Value, int]:
        """Each node's position in ``order``."""
        if self._index is None:
            self._index = {v: i for i, v in enumerate(self.order)}
        return self._index

    @property
    def names(self) -> dict[Value, str]:
        """Each node's readable name: its label, else ``op#k`` in construction order (``names.node_names``)."""
        if self._names is None:
            self._names = node_names(self.order)
            self._labels = [v.label for v in self.order]
        return self._names

    def stale(self) -> bool:
        """True when a node's label changed since the names were made (build a new Graph then)."""
        if self._labels is None:
            return False
        return any(v.label is not old for v, old in zip(self.order, self._labels))

    @property
    def consumers(self) -> dict[Value, list[Value]]:
        """Each node's consumers (the nodes that take it as an input, each once), in ``order``; [] for the root."""
        if self._consumers is None:
            consumers: dict[Value, list[Value]] = {v: [] for v in self.order}
            for v in self.order:
                ins = v.inputs
                if len(ins) > 2:
                    ins = dict.fromkeys(ins)
                elif len(ins) == 2 and ins[0] is ins[1]:
                    ins = ins[:1]
                for x in ins:
                    consumers[x].append(v)
            self._consumers = consumers
        return self._consumers

    def positions(self, child: Value, parent: Value) -> tuple[int, ...]:
        """Where ``parent`` stands among ``child``'s inputs (every position). A wide node is scanned for its first
        parent asked and indexed when another is asked, so one question or many cost its width once or twice."""
        ins = child.inputs
        if len(ins) <= 2:
            return tuple(i for i, x in enumerate(ins) if x is parent)
        where = self._positions.get(child)
        if where is None:
            asked = self._scanned.get(child)
            if asked is None or asked[0] is parent:
                if asked is None:
                    asked = self._scanned[child] = (parent, tuple(i for i, x in enumerate(ins) if x is parent))
                return asked[1]
            lists: dict[Value, list[int]] = {}
            for i, x in enumerate(ins):
                lists.setdefault(x, []).append(i)
            where = self._positions[child] = {x: tuple(p) for x, p in lists.items()}
        return where.get(parent, ())

    def kind(self, v: Value, params: Collection[Value] | None = None) -> str:
        """``node_kind`` of ``v`` in this graph (``params`` overrides the Graph's)."""
        return node_kind(v, self.root, self.params if params is None else params)

    def kept(self, collapse: Collapse = True) -> set[Value]:
        """The nodes a folded view keeps (``fold.kept_nodes``), cached per setting."""
        key = collapse_key(collapse)
        if key not in self._kept:
            self._kept[key] = kept_nodes(self, collapse)
        return self._kept[key]

    def folded(self, collapse: Collapse = True) -> list[FoldedEdge]:
        """The folded edges among ``kept(collapse)`` (``fold.fold``), cached per setting."""
        key = collapse_key(collapse)
        if key not in self._folded:
            self._folded[key] = fold(self, self.kept(collapse))
        return self._folded[key]

    def reaching(self, v: Value) -> set[Value]:
        """``v`` and every node that depends on it (the nodes between the root and ``v``)."""
        seen = {v}
        if self._consumers is None:  # one pass up the order, cheaper than building the consumer lists first
            for u in self.order[self.index[v] + 1:] if self._index is not None else self.order:
                a = u._a
                if a is None:  # a leaf depends on nothing
                    continue
                b = u._b
                if b is MANY:
                    if any(x in seen for x in a):
                        seen.add(u)
                elif a in seen or (b is not None and b in seen):
                    seen.add(u)
            return seen
        consumers = self._consumers
        stack = [v]
        while stack:
            for u in consumers[stack.pop()]:
                if u not in seen:
                    seen.add(u)
                    stack.append(u)
        return seen

    def below(self, v: Value) -> set[Value]:
        """``v`` and every node it depends on."""
        seen = {v}
        stack = [v]
        while stack:
            for x in stack.pop().inputs:
                if x not in seen:
                    seen.add(x)
                    stack.append(x)
        return seen

    def between(self, top: Value, target: Value) -> tuple[set[Value], set[tuple[Value, Value]]]:
        """The nodes and the (consumer, input) edges on every path from ``top`` down to ``target``."""
        nodes = self.below(top) & self.reaching(target)
        return nodes, {(v, x) for v in nodes for x in v.inputs if x in nodes}

    def gradients(self, among: list[Value] | None = None) -> dict[Value, float]:
        """d root / d node for every node, added up in backward()'s order (so equal to it exactly); cached.

        ``among``: when only these nodes' gradients are wanted (in ``order``, with every consumer of each: the
        nodes between the root and one node), and the whole is not cached yet, just those, not cached.
        """
        if self._grads is not None:
            return self._grads
        part = among is not None and len(among) < len(self.order)
        nodes = among if part else self.order
        grad = dict.fromkeys(nodes, 0.0)
        grad[self.root] = 1.0
        for v in reversed(nodes):
            g = grad[v]
            for child, local in zip(v.inputs, v.local_grads):
                if child in grad:
                    grad[child] += local * g
        if not part:
            self._grads = grad
        return grad


def as_graph(x: Value | Graph, who: str = "graph") -> Graph:
    """``x`` itself if it is a Graph, else the Graph of the Value ``x``."""
    if isinstance(x, Graph):
        return x
    if isinstance(x, Value):
        return Graph(x)
    raise TypeError(f"{who}: expected a Value or a Graph, got {type(x).__name__}")
