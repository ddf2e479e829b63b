"""Scalar operations shared by every backend (see `theanine.scalar.basic`)."""

from theanine.scalar.basic import Cast, ScalarOp, Switch, upcast

__all__ = ["Cast", "ScalarOp", "Switch", "upcast"]
