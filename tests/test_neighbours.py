"""images2neibs / neibs2images (issue 12) against a patch-by-patch loop written here,
numerical gradients (overlapping patches included), shape inference and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.tensor.nnet.neighbours import (
    Images2Neibs,
    Neibs2Images,
    images2neibs,
    neibs2images,
)
from theanine.testing import check_backends, check_infer_shape, verify_grad


def naive_images2neibs(x, neib_shape, neib_step=None, mode="valid"):
    """One row per patch, patches in (image, channel, patch row, patch column) order; pixels
    outside the image are 0, except in wrap_centered mode where indices wrap around."""
    (nh, nw), (sh, sw) = neib_shape, neib_step or neib_shape
    h, w = x.shape[2:]
    shift = {"half": (nh // 2, nw // 2), "full": (nh - 1, nw - 1),
             "wrap_centered": (nh // 2, nw // 2)}.get(mode, (0, 0))
    if mode == "wrap_centered":
        grid = (-(-h // sh), -(-w // sw))
    else:
        grid = ((h + 2 * shift[0] - nh) // sh + 1, (w + 2 * shift[1] - nw) // sw + 1)
    rows = []
    for b, c in np.ndindex(*x.shape[:2]):
        for a, d in np.ndindex(*grid):
            patch = []
            for i, j in np.ndindex(nh, nw):
                r, s = a * sh + i - shift[0], d * sw + j - shift[1]
                if mode == "wrap_centered":
                    patch.append(x[b, c, r % h, s % w])
                else:
                    patch.append(x[b, c, r, s] if 0 <= r < h and 0 <= s < w else 0.0)
            rows.append(patch)
    return np.array(rows).reshape(-1, nh * nw)


CASES = [  # image size, neib_shape, neib_step, mode
    ((6, 4), (2, 2), None, "valid"),
    ((7, 5), (3, 1), (2, 2), "valid"),
    ((7, 6), (2, 3), None, "ignore_borders"),
    ((7, 6), (3, 2), (1, 2), "ignore_borders"),
    ((5, 6), (3, 3), (1, 1), "wrap_centered"),
    ((5, 4), (3, 1), (2, 3), "wrap_centered"),
    ((5, 6), (3, 2), (1, 1), "half"),
    ((4, 5), (2, 3), (2, 2), "half"),
    ((4, 3), (2, 3), (1, 1), "full"),
    ((3, 5), (3, 2), (2, 3), "full"),
]


@pytest.mark.parametrize("size, neib_shape, neib_step, mode", CASES)
def test_images2neibs_matches_the_patch_loop(size, neib_shape, neib_step, mode, rng):
    x = T.dtensor4("x")
    xv = rng.normal(size=(2, 3, *size))
    got = theanine.function([x], images2neibs(x, neib_shape, neib_step, mode))(xv)
    want = naive_images2neibs(xv, neib_shape, neib_step, mode)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("size, neib_shape, neib_step, mode", CASES)
def test_gradients_are_numerical(size, neib_shape, neib_step, mode, rng):
    xv = rng.normal(size=(1, 2, *size))
    verify_grad(lambda x: images2neibs(x, neib_shape, neib_step, mode), [xv], rng=rng)
    rows = naive_images2neibs(xv, neib_shape, neib_step, mode)
    op = Neibs2Images(neib_shape, neib_step, mode)
    verify_grad(lambda n: op(n, xv.shape), [rng.normal(size=rows.shape)], rng=rng)


@pytest.mark.parametrize("size, neib_shape, neib_step, mode", CASES)
def test_inferred_shapes(size, neib_shape, neib_step, mode, rng):
    xv = rng.normal(size=(2, 1, *size))
    check_infer_shape(Images2Neibs(neib_shape, neib_step, mode), [xv])
    check_infer_shape(lambda r, x: Neibs2Images(neib_shape, neib_step, mode)(r, x.shape),
                      [naive_images2neibs(xv, neib_shape, neib_step, mode), xv])


@pytest.mark.parametrize("size, neib_shape, neib_step, mode", CASES[::3])
def test_each_op_agrees_with_perform_on_every_backend(size, neib_shape, neib_step, mode, rng):
    xv = rng.normal(size=(2, 3, *size)).astype("float32")
    rows = naive_images2neibs(xv, neib_shape, neib_step, mode).astype("float32")
    assert check_backends(Images2Neibs(neib_shape, neib_step, mode), [xv])
    assert check_backends(Neibs2Images(neib_shape, neib_step, mode), [rows, np.array(xv.shape)])


@pytest.mark.parametrize("size, mode", [((6, 4), "valid"), ((7, 5), "ignore_borders")])
def test_neibs2images_inverts_images2neibs(size, mode, rng):
    x = T.dtensor4("x")
    xv = rng.normal(size=(2, 3, *size))
    rows = images2neibs(x, (2, 2), mode=mode)
    back = theanine.function([x], neibs2images(rows, (2, 2), x.shape, mode=mode))(xv)
    covered = (slice(None), slice(None), slice(0, size[0] // 2 * 2), slice(0, size[1] // 2 * 2))
    want = np.zeros_like(xv)
    want[covered] = xv[covered]
    np.testing.assert_array_equal(back, want)


def test_neibs2images_with_a_tuple_shape(rng):
    neibs = T.dmatrix("neibs")
    nv = rng.normal(size=(6, 4))
    got = theanine.function([neibs], neibs2images(neibs, (2, 2), (1, 1, 4, 6)))(nv)
    np.testing.assert_array_equal(naive_images2neibs(got, (2, 2)), nv)


def test_errors_name_the_input(rng):
    x = T.dtensor4("images")
    f = theanine.function([x], images2neibs(x, (2, 2), (2, 2)))
    with pytest.raises(ValueError, match=r"images of shape \(1, 1, 5, 4\) does not split.*"
                                         r"ignore_borders"):
        f(rng.normal(size=(1, 1, 5, 4)))
    with pytest.raises(TypeError, match="ten4 m must be a 4-d tensor"):
        images2neibs(T.dmatrix("m"), (2, 2))
    with pytest.raises(ValueError, match="odd neib_shape"):
        images2neibs(x, (2, 3), mode="wrap_centered")
    with pytest.raises(ValueError, match="neib_shape must be a pair of ints"):
        images2neibs(x, (2, 0))
    with pytest.raises(ValueError, match="mode must be one of"):
        images2neibs(x, (2, 2), mode="same")
    with pytest.raises(NotImplementedError, match="'valid' and 'ignore_borders'"):
        neibs2images(T.dmatrix("n"), (3, 3), x.shape, mode="half")
    neibs = T.dmatrix("neibs")
    g = theanine.function([neibs, x], neibs2images(neibs, (2, 2), x.shape))
    with pytest.raises(ValueError, match=r"neibs has shape \(5, 4\).*\(6, 4\) was expected"):
        g(rng.normal(size=(5, 4)), rng.normal(size=(1, 1, 4, 6)))
