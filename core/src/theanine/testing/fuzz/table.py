"""The op table: the built-in declarations plus those plugins contribute through the
`theanine_register_fuzz_ops` hook."""

from __future__ import annotations

from theanine.testing.fuzz.domains import OpSpec
from theanine.testing.fuzz.ops_elemwise import elemwise_specs
from theanine.testing.fuzz.ops_extra import extra_specs
from theanine.testing.fuzz.ops_identities import identity_specs
from theanine.testing.fuzz.ops_linalg import linalg_specs
from theanine.testing.fuzz.ops_nnet import nnet_specs
from theanine.testing.fuzz.ops_scan import scan_specs
from theanine.testing.fuzz.ops_tensor import tensor_specs


def builtin_specs() -> dict[str, OpSpec]:
    specs: dict[str, OpSpec] = {}
    for spec in (elemwise_specs() + tensor_specs() + nnet_specs() + linalg_specs()
                 + extra_specs() + identity_specs() + scan_specs()):
        if spec.name in specs:
            raise ValueError(f"duplicate fuzz op {spec.name!r}")
        specs[spec.name] = spec
    return specs


def all_specs() -> dict[str, OpSpec]:
    """Built-in declarations, then the plugins' (a plugin op may not reuse a built-in name)."""
    from theanine.plugins import get_registry

    specs = builtin_specs()
    for name, (spec, plugin) in get_registry().fuzz_ops.items():
        if name in specs:
            raise ValueError(f"fuzz op {name!r} from plugin {plugin!r} clashes with a "
                             "built-in one")
        specs[name] = spec
    return specs
