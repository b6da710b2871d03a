"""Limits on a YAML document before it is built: nesting depth and the node count once every alias
is expanded.

A compose file or a runtime YAML is written by hand and is a few hundred nodes. Nine lines of
aliases (`b: [*a, *a, ...]`, each level nine times the last) expand to 10^8 nodes: PyYAML builds
them as shared references in a blink, but anything that walks the result (the parse cache's JSON,
the checker) walks every copy and spins a core. Ten thousand `[` in a row overflow PyYAML's
recursive composer (a RecursionError, not an error message). Both are refused here, from the
parser's event stream, which is flat (no recursion) and counts an alias by the size of what it
names without expanding it.
"""

from __future__ import annotations

from .lazy_dataclass import lazy_dataclass

#: Deepest nesting of mappings and sequences (an alias counts as deep as what it names).
MAX_DEPTH = 64
#: Most nodes (scalars, mappings, sequences) once every alias is expanded.
MAX_NODES = 100_000


@lazy_dataclass(frozen=True)
class TooBig:
    """Why a document was refused, and where (1-based line of the event that crossed the limit)."""

    message: str
    line: int | None


@lazy_dataclass
class _Frame:
    anchor: str | None
    nodes: int = 1
    height: int = 1


def check(text: str, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> TooBig | None:
    """None when `text` is within the limits (or does not parse: the loader reports that itself)."""
    import yaml

    loader = yaml.SafeLoader  # libyaml stops at 1000 levels with an error of its own; this reads on
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, height) of what it names
    stack: list[_Frame] = [_Frame(None, 0, 0)]  # the stream: holds the documents' totals
    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark else None
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append(_Frame(event.anchor))
                if len(stack) - 1 > max_depth:
                    return TooBig(f"nested deeper than {max_depth} levels; refused", line)
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                done = stack.pop()
                nodes, height, anchor = done.nodes, done.height, done.anchor
            elif isinstance(event, yaml.ScalarEvent):
                nodes, height, anchor = 1, 1, event.anchor
            elif isinstance(event, yaml.AliasEvent):
                nodes, height = sizes.get(event.anchor or "", (1, 1))
                anchor = None
            else:
                continue
            if anchor is not None:
                sizes[anchor] = (nodes, height)
            parent = stack[-1]
            parent.nodes += nodes
            parent.height = max(parent.height, height + (1 if len(stack) > 1 else 0))
            if len(stack) - 1 + height > max_depth:
                return TooBig(f"nested deeper than {max_depth} levels once its aliases are expanded; "
                              "refused", line)
            if sum(f.nodes for f in stack) > max_nodes:
                return TooBig(f"more than {max_nodes} nodes once its aliases are expanded "
                              "(an alias bomb?); refused", line)
    except yaml.YAMLError:
        return None
    return None
