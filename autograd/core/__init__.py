"""The engine: Values and backward (``value``), the op table (``ops``), node constructors generated from it
(``construct``), and the one view of a graph every reader shares (``graph``, ``fold``, ``names``).

Nothing here imports the readers (stepping, explain, pictures, compile, ...): they read the core.
"""
