"""`theanine.sparse`: Theano's `theano.sparse`, provided by the separately installed plugin
distribution `theanine-sparse` (package `theanine_sparse`).  This module only re-exports it,
so the core never depends on the plugin, and says what to install when it is missing.
"""

try:
    from theanine_sparse import *  # noqa: F403
    from theanine_sparse import __all__  # noqa: F401
except ModuleNotFoundError as exc:
    if exc.name != "theanine_sparse":
        raise
    raise ImportError(
        "theanine.sparse needs the theanine-sparse plugin, which is not installed: install it "
        "with `pip install ./plugins/sparse` from a theanine checkout (distribution "
        "theanine-sparse)") from None
