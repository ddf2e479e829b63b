"""theanine-example-op: seed 000's row softmax as a custom Op, packaged as a theanine plugin.

Users import the Op from here (`from theanine_example_op import row_softmax`); theanine itself
finds the package only through its entry point (`theanine_example_op.plugin`).
"""

from theanine_example_op.op import RowSoftmax, row_softmax

#: the distribution that provides this package (what `pip install` takes)
DISTRIBUTION = "theanine-example-op"

__all__ = ["DISTRIBUTION", "RowSoftmax", "row_softmax"]
