"""`theano.gof.utils`: the exception a ported Op raises for a method it does not define."""


class MethodNotDefined(NotImplementedError):
    """Raised by an Op for an optional method it does not implement (e.g. `c_code`)."""
