"""A YAML reader for files people edit by hand and tools generate: small, flat, unambiguous.

Why not ``yaml.safe_load``: it accepts three things that hurt a config file. Aliases (``*a``)
expand, so 454 bytes can become billions of nodes that every later walk over the tree pays for
(the "billion laughs" bomb); a config has no use for them, so they are refused before they
expand. A duplicated key silently keeps the last value, so a second ``engine:`` block makes the
first vanish; here it is an error naming both lines. Deep nesting makes the recursive composer
(and every recursive walk after it) hit Python's recursion limit with a 3,000-line traceback;
here anything nested deeper than ``MAX_DEPTH`` is refused at the line where it happens.

Every refusal is a ``StrictYamlError`` with a one-line message and the line/column.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node

MAX_DEPTH = 32
"""No fundscan config nests deeper than 5; 32 leaves room and stays far below the stack."""


class StrictYamlError(ValueError):
    """Refused YAML: ``where`` is ``line L, column C`` (may be empty), ``problem`` says why."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}" if where else problem)


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases, without duplicate keys, with a nesting limit."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise StrictYamlError(
                _where(event.start_mark),
                "YAML aliases (*name) are not allowed in a config file; write the value out",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise StrictYamlError(_where(mark), f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if not isinstance(key, str):
                raise StrictYamlError(
                    _where(key_node.start_mark),
                    f"key {key!r} is not a name; config keys are words such as notional_usd",
                )
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; the base class reports it properly
                continue
            if first is not None:
                raise StrictYamlError(
                    _where(key_node.start_mark),
                    f"duplicate key {key!r} (first at line {first.line + 1}); "
                    "keep one, a second one would silently replace the first",
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """Parse one YAML document strictly. Raises ``StrictYamlError`` (also for plain syntax and
    for characters YAML does not allow, which the reader refuses before parsing)."""
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)
        return loader.get_single_data()
    except StrictYamlError:
        raise
    except yaml.reader.ReaderError as exc:
        problem = f"character #x{exc.character:04x} is not allowed in YAML"
        raise StrictYamlError(f"position {exc.position + 1}", problem) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise StrictYamlError(_where(mark), f"invalid YAML: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()  # type: ignore[no-untyped-call]
