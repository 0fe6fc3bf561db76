"""Does a class implement a Protocol in substance, not only in name?

``isinstance(x, SomeProtocol)`` on a ``runtime_checkable`` protocol only checks that the
attribute *names* exist: a ``fetch_book(self)`` that forgot ``depth``, or a plain ``def`` where
the collector awaits a coroutine, passes it. This compares every protocol method with the
implementation: async-ness, parameter names, kinds and order, resolved annotations, and the
return annotation. Extra parameters are allowed only with defaults (callers never pass them).
"""

from __future__ import annotations

import inspect
import typing
from typing import Any


def _members(protocol: type) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(protocol).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }


def _hints(fn: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except (NameError, TypeError) as exc:  # an annotation that does not resolve is a mismatch
        return {"<unresolvable>": repr(exc)}


def protocol_mismatches(impl: object, protocol: type) -> list[str]:
    """Every way ``impl`` (an instance, so attributes set in ``__init__`` count) differs from
    ``protocol``; an empty list when it conforms."""
    cls = type(impl)
    problems = [
        f"attribute {name!r} missing"
        for name in typing.get_type_hints(protocol)
        if not hasattr(impl, name)
    ]
    for name, want in _members(protocol).items():
        got = getattr(cls, name, None)
        if got is None or not callable(got):
            problems.append(f"method {name}() missing")
            continue
        if inspect.iscoroutinefunction(want) != inspect.iscoroutinefunction(got):
            problems.append(f"{name}(): async must be {inspect.iscoroutinefunction(want)}")
        want_params = list(inspect.signature(want).parameters.values())[1:]
        got_params = list(inspect.signature(got).parameters.values())[1:]
        head = got_params[: len(want_params)]
        if [(p.name, p.kind) for p in head] != [(p.name, p.kind) for p in want_params]:
            problems.append(f"{name}(): parameters {head} instead of {want_params}")
        extra = [p for p in got_params[len(want_params) :] if p.default is inspect.Parameter.empty]
        if extra:
            problems.append(f"{name}(): extra required parameters {extra}")
        want_hints, got_hints = _hints(want), _hints(got)
        for key, value in want_hints.items():
            if got_hints.get(key) != value:
                problems.append(f"{name}(): {key} is {got_hints.get(key)!r}, not {value!r}")
    return problems
