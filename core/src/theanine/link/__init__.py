"""Backends: the `Backend` protocol and the reference Python backend."""

from theanine.link.backend import Backend, select_backend

__all__ = ["Backend", "select_backend"]
