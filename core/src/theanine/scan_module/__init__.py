"""Loops in the graph: `scan` and its shorthands `map`, `reduce`, `foldl`, `foldr`.

`scan` builds a `Scan` node (see `op.py`) holding the step as an inner graph; its gradient is a
backward Scan (`grad.py`) and its rewrites (`rewriting.py`) are registered through the plugin
hook like every other rewrite.  As in Theano, the package is `scan_module` and the function is
`theanine.scan`.
"""

from theanine.scan_module.basic import ScanError, scan
from theanine.scan_module.op import Scan, ScanInfo
from theanine.scan_module.scan_utils import until
from theanine.scan_module.views import foldl, foldr, map, reduce

__all__ = ["Scan", "ScanError", "ScanInfo", "foldl", "foldr", "map", "reduce", "scan", "until"]
