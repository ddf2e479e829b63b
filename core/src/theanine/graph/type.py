"""The `Type` contract: what values a variable may hold and how user values are converted."""

from __future__ import annotations

from typing import Any


class Type:
    """Describes the values of a variable.

    Subclasses implement `filter` (convert or reject a value) and equality; `make_variable`
    creates a variable of this type, using `variable_type`/`constant_type`.
    """

    variable_type: type = None  # type: ignore[assignment]
    constant_type: type = None  # type: ignore[assignment]

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None,
               name: str | None = None) -> Any:
        """Return `value` converted to this type, or raise TypeError naming `name`."""
        raise NotImplementedError

    def is_valid_value(self, value: Any) -> bool:
        try:
            self.filter(value, strict=True)
            return True
        except (TypeError, ValueError):
            return False

    def is_compatible(self, other: Type) -> bool:
        """Whether a variable of `other` may stand where one of this type is expected."""
        return self == other

    def make_variable(self, name: str | None = None):
        from theanine.graph.basic import Variable

        return (self.variable_type or Variable)(self, None, None, name)

    def __call__(self, name: str | None = None):
        return self.make_variable(name)

    def value_signature(self, value: Any) -> Any:
        """A hashable key equal for interchangeable values (constant merging, caching)."""
        return value

    def value_str(self, value: Any) -> str:
        return str(value)

    def values_eq(self, a: Any, b: Any) -> bool:
        return a == b
