"""`pprint` and `pydotprint` (issue 11): the DOT text is checked always; the picture through
graphviz's `dot` when it is installed."""

import re
import shutil

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine import printing

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="graphviz's `dot` is not on PATH")


def parse_dot(text):
    """({id: attrs}, [(src, dst, attrs)]) of the DOT text graph_to_dot writes."""
    def attrs(s):
        return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', s or ""))

    nodes, edges = {}, []
    for line in text.splitlines()[1:-1]:
        m = re.match(r"\s*(\w+) -> (\w+) (\[.*\]);$", line)
        if m:
            edges.append((m[1], m[2], attrs(m[3])))
            continue
        m = re.match(r"\s*(\w+) (\[.*\]);$", line)
        assert m, f"unparsed DOT line: {line!r}"
        assert m[1] not in nodes, f"{m[1]} declared twice"
        nodes[m[1]] = attrs(m[2])
    return nodes, edges


def by_label(nodes, label):
    found = [k for k, a in nodes.items() if a["label"] == label]
    assert len(found) == 1, (label, nodes)
    return found[0]


def test_pprint_is_pp():
    x = T.dscalar("x")
    assert printing.pprint is printing.pp
    assert printing.pprint(x * 2 + 1) == "((x * 2.0) + 1.0)"


def test_dot_text_of_variables():
    x, y = T.dvector("x"), T.dvector("y")
    z = T.exp(x) * y
    z.name = "z"
    nodes, edges = parse_dot(printing.graph_to_dot(z, var_with_name_simple=True))
    ix, iy, iz = by_label(nodes, "x"), by_label(nodes, "y"), by_label(nodes, "z")
    assert nodes[ix]["fillcolor"] == "green" and nodes[ix]["shape"] == "box"
    assert nodes[iz]["fillcolor"] == "blue"
    ops = {a["label"]: k for k, a in nodes.items() if a["shape"] == "ellipse"}
    assert len(ops) == 2
    exp_id = next(k for label, k in ops.items() if "exp" in label)
    mul_id = next(k for label, k in ops.items() if "mul" in label)
    pairs = {(s, d): a for s, d, a in edges}
    assert (ix, exp_id) in pairs and (iy, mul_id) in pairs and (mul_id, iz) in pairs
    # the unnamed exp(x) is not drawn (compact): its type labels the edge, with input index 0
    assert pairs[(exp_id, mul_id)]["label"] == "0 TensorType(float64, vector)"
    assert pairs[(iy, mul_id)]["label"] == "1"
    full, _ = parse_dot(printing.graph_to_dot(z, compact=False))
    assert len(full) == len(nodes) + 1
    assert "name=x TensorType(float64, vector)" in {a["label"] for a in full.values()}


def test_dot_text_of_a_function_with_a_shared_update_and_constants():
    w = theano.shared(np.zeros(2), name="w")
    x = T.dvector("x")
    f = theano.function([x], T.sum(x * w), updates=[(w, w + x)])
    text = printing.graph_to_dot(f, with_ids=True)
    nodes, edges = parse_dot(text)
    iw = next(k for k, a in nodes.items() if a["label"].startswith("name=w"))
    assert nodes[iw]["fillcolor"] == "cyan"
    update = [(s, d) for s, d, a in edges if a.get("label") == "UPDATE"]
    assert len(update) == 1 and update[0][0] == iw
    assert nodes[update[0][1]]["fillcolor"] == "blue"
    ops = [a["label"] for a in nodes.values() if a["shape"] == "ellipse"]
    assert all(re.search(r" id=\d+$", label) for label in ops)
    assert len(ops) == len(f.maker.fgraph.toposort())


def test_dot_text_escapes_and_clips_labels():
    x = T.dvector('a "quoted" name')
    nodes, _ = parse_dot(printing.graph_to_dot(T.exp(x), max_label_size=12))
    assert all(len(a["label"].replace('\\"', '"')) <= 12 for a in nodes.values())


def test_pydotprint_rejects_non_graphs():
    with pytest.raises(TypeError, match="pydotprint expects"):
        printing.graph_to_dot([np.ones(2)])


@needs_dot
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_pydotprint_writes_a_picture(tmp_path, fmt, capsys):
    x = T.dmatrix("x")
    f = theano.function([x], T.tanh(T.dot(x, x.T)).sum())
    out = tmp_path / "graph"
    printing.pydotprint(f, outfile=str(out), format=fmt)
    written = tmp_path / f"graph.{fmt}"
    data = written.read_bytes()
    if fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert b"<svg" in data and b"tanh" in data
    assert str(written) in capsys.readouterr().out
    image = printing.pydotprint(x + 1, format="svg", return_image=True)
    assert image.lstrip().startswith(b"<?xml") and b"<svg" in image


def test_pydotprint_without_dot_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="graphviz.*`dot`"):
        printing.pydotprint(T.dvector("x") * 2, outfile=str(tmp_path / "g.png"))


@needs_dot
def test_pydotprint_reports_a_dot_failure(tmp_path):
    with pytest.raises(RuntimeError, match="failed"):
        printing.pydotprint(T.dvector("x") * 2, outfile=str(tmp_path / "g"),
                            format="no-such-format")
