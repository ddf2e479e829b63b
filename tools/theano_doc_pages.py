"""Run the code blocks of Theano's tutorial pages against theanine.

    python tools/theano_doc_pages.py PATH/TO/Theano [page ...] [-v]

PATH is a checkout of Theano (its doc/tutorial/*.txt are read there, not copied here). The `>>>`
examples and the sphinx `testcode`/`testoutput` blocks of each page run in page order, in one
namespace per page that starts with `numpy` and `theano` imported, with every `import theano...`
loading theanine, floatX set to Theano's default float64 (and `time.clock`, gone since Python
3.8, as `time.perf_counter`). Printed results are compared as text after writing the page's
NumPy 1 array reprs as NumPy 2 prints them (`array(5.0)` -> `array(5.)`, `[ 1.  2.]` ->
`[1. 2.]`), else as values.  A block whose output is a traceback must raise an exception of
that type (Theano's message text is not compared: tests/port checks what our messages say).
"""
from __future__ import annotations

import doctest
import importlib
import importlib.abc
import importlib.util
import re
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

PAGES = ("adding", "examples", "gradients", "loop", "conditions", "shape_info", "aliasing",
         "broadcasting", "printing_drawing", "debug_faq", "modes")


class TheanoAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import theano.x` gives `theanine.x` (the one-line port, applied to every import)."""

    def find_spec(self, name, path, target=None):
        if name == "theano" or name.startswith("theano."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module("theanine" + spec.name[len("theano"):])

    def exec_module(self, module):
        pass

def _value(text: str) -> object:
    """A printed result read back as a value, or None."""
    names = {"array": np.array, "float32": np.float32, "float64": np.float64,
             "int64": np.int64, "int8": np.int8, "dtype": np.dtype, "nan": np.nan, "inf": np.inf}
    text = re.sub(r"\s+", " ", text.strip())
    if text.startswith("[") and "array" not in text:  # printed arrays: [1. 2.] [[1 2] [3 4]]
        text = re.sub(r"(?<=[\d.\]]) (?=[-\d.\[])", ", ", text)
        groups, depth, start = [], 0, 0
        for k, ch in enumerate(text):
            depth += (ch == "[") - (ch == "]")
            if depth == 0 and ch == "]":
                groups.append(text[start:k + 1])
                start = k + 1
        if len(groups) > 1:
            text = "(" + ", ".join(g.strip(" ,") for g in groups) + ",)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return eval(text, names)
    except Exception:
        return None


def _close(a: object, b: object) -> bool:
    return np.shape(a) == np.shape(b) and np.allclose(np.asarray(a, float), np.asarray(b, float),
                                                      rtol=1e-4, atol=1e-6)


def _numpy2(text: str) -> str:
    """NumPy 1's float reprs as NumPy 2 prints them: `5.0` -> `5.`, `[ 1.  2.]` -> `[1. 2.]`."""
    text = re.sub(r"(?<=[(\[\s,])(-?\d+)\.0(?![\d.e])", r"\1.", text)
    return re.sub(r"(?<=[\d.])  +(?=-?\d)", " ", re.sub(r"\[ +", "[", text))


class ValueChecker(doctest.OutputChecker):
    """Text equality (the page's NumPy 1 reprs read as NumPy 2's), else equal values (shape
    and numbers to 1e-4)."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        if super().check_output(_numpy2(want), got, optionflags):
            return True
        w, g = _value(want), _value(got)
        if w is None or g is None:
            return False
        try:
            if isinstance(w, (list, tuple)) and isinstance(g, (list, tuple)):
                return len(w) == len(g) and all(_close(a, b) for a, b in zip(w, g))
            return _close(w, g)
        except (TypeError, ValueError):
            return False


def _block(lines: list[str], i: int) -> tuple[str, int]:
    """The indented body of the directive at lines[i] (options dropped), and where it ends."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    j = i + 1
    while j < len(lines) and (not lines[j].strip()
                              or len(lines[j]) - len(lines[j].lstrip()) > indent):
        j += 1
    body = [b for b in lines[i + 1:j] if not b.strip().startswith(":")]
    return textwrap.dedent("\n".join(body)).strip("\n"), j


def examples(text: str) -> list[doctest.Example]:
    """The page's examples in order: `>>>` ones, and each testcode block as one example with
    the output of the testoutput block of its group (sphinx pairs them even with prose in
    between: "Running the code above we see:")."""
    lines, out, prose = text.splitlines(), [], []
    parser = doctest.DocTestParser()
    last_code: dict[str, tuple[int, str]] = {}  # group -> (index in out, code)

    def flush() -> None:
        out.extend(e for e in parser.parse("\n".join(prose)) if isinstance(e, doctest.Example))
        prose.clear()

    i = 0
    while i < len(lines):
        directive = lines[i].strip()
        if not directive.startswith((".. testcode::", ".. testsetup::", ".. testoutput::")):
            prose.append(lines[i])
            i += 1
            continue
        flush()
        group = directive.split("::", 1)[1].strip()
        body, i = _block(lines, i)
        if directive.startswith(".. testoutput::"):
            if group in last_code:
                k, code = last_code.pop(group)
                out[k] = _example(code, body + "\n" if body else "", i)
            continue
        out.append(_example(body, "", i))
        if directive.startswith(".. testcode::"):
            last_code[group] = (len(out) - 1, body)
    flush()
    return out


def _example(code: str, want: str, lineno: int) -> doctest.Example:
    """A testcode block as one example; an expected traceback becomes the exception type the
    block must raise (doctest's IGNORE_EXCEPTION_DETAIL compares only that)."""
    if not want.startswith("Traceback (most recent call last):"):
        return doctest.Example(f"exec({code!r})\n", want, lineno=lineno)
    lines = want.splitlines()
    last = next(k for k in range(1, len(lines)) if lines[k] and not lines[k][0].isspace())
    return doctest.Example(f"exec({code!r})\n", "", exc_msg=lines[last] + "\n", lineno=lineno,
                           options={doctest.IGNORE_EXCEPTION_DETAIL: True})


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    root, pages = Path(args[0]) / "doc" / "tutorial", args[1:] or PAGES
    sys.meta_path.insert(0, TheanoAlias())
    theano = importlib.import_module("theano")
    theano.config.floatX = "float64"  # Theano's default, which the pages were run with
    time.clock = time.perf_counter  # removed in Python 3.8; the pages time with it
    failed = attempted = 0
    for p in pages:
        text = (root / f"{p}.txt").read_text()
        # Theano ran its pages with numpy and theano imported
        test = doctest.DocTest(examples(text), {"numpy": np, "theano": theano}, p, p, 0, text)
        runner = doctest.DocTestRunner(checker=ValueChecker(),
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        r = runner.run(test, out=sys.stdout.write if verbose else (lambda s: None))
        print(f"{p}: {r.attempted - r.failed} of {r.attempted} examples give the page's result")
        failed += r.failed
        attempted += r.attempted
    print(f"total: {attempted - failed} of {attempted}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
