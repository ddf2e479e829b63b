"""The interactive HTML view (`theanine.d3viz`, `theanine show`): the page opened in headless
Chromium shows every node of the compiled function and of the graph as written, fused nodes
expand to their steps, and hover data (shapes, provenance) agrees with what the function
computes and what the rewriter recorded."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine import cli
from theanine.d3viz.layout import place
from theanine.d3viz.model import compiled_view, original_view
from theanine.graph.basic import io_toposort
from theanine.scalar.composite import Composite

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason="no headless Chromium on PATH (Debian: apt-get install chromium)")
N, FEATS = 30, 5


def logistic_regression():
    """The tutorial's training step, with test values; returns (train, user variables, data)."""
    rng = np.random.RandomState(3)
    data = (rng.randn(N, FEATS).astype("float32"), (rng.rand(N) > 0.5).astype("float32"))
    x, y = T.matrix("x"), T.vector("y")
    x.tag.test_value, y.tag.test_value = data
    w = theanine.shared(rng.randn(FEATS).astype("float32"), name="w")
    b = theanine.shared(np.asarray(0.0, dtype="float32"), name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    outputs, updates = [p_1 > 0.5, xent], [(w, w - 0.1 * gw), (b, b - 0.1 * gb)]
    train = theanine.function([x, y], outputs, updates=updates, name="train")
    return train, ([x, y, w, b], outputs + [u for _, u in updates]), data


class Elements(HTMLParser):
    """Every element's tag and attributes, and the text of <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.items.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)

    def nodes(self, graph: str, kind: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.items if t == "g" and "node" in a.get("class", "").split()
                and a.get("data-graph") == graph and (kind is None or a["data-kind"] == kind)]


def parse(text: str) -> Elements:
    doc = Elements()
    doc.feed(text)
    return doc


def browser(path: Path, *args: str) -> str:
    done = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={path.parent / 'chromium-profile'}", *args],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@needs_browser
def test_chromium_renders_every_node_of_both_graphs(tmp_path):
    train, (user_inputs, user_outputs), _ = logistic_regression()
    page = tmp_path / "train.html"
    theanine.d3viz(train, page)
    assert parse(page.read_text()).nodes("compiled") == []  # the script builds the boxes
    dom = parse(browser(page, "--dump-dom", page.as_uri()))
    body = next(a for t, a in dom.items if t == "body")
    assert body["data-rendered"] == "2"
    compiled = dom.nodes("compiled", "apply")
    topo = train.maker.fgraph.toposort()
    assert len(compiled) == len(topo)
    by_pos = {a["data-pos"]: a["data-label"] for a in compiled}
    assert by_pos == {str(k): str(node.op) for k, node in enumerate(topo)}
    written = io_toposort(user_inputs, user_outputs)  # the graph the user built
    labels = sorted(a["data-label"] for a in dom.nodes("original", "apply"))
    assert labels == sorted(str(node.op) for node in written)
    names = {a["data-label"] for a in dom.nodes("compiled")}
    assert {"x", "y", "w", "b", "update of w", "update of b"} <= names


@needs_browser
def test_fused_nodes_expand_to_their_scalar_steps_in_the_browser(tmp_path):
    train, _, _ = logistic_regression()
    page = tmp_path / "train.html"
    theanine.d3viz(train, page)
    dom = parse(browser(page, "--dump-dom", page.as_uri() + "#expand"))
    fused = [a for a in dom.nodes("compiled", "apply") if "fused" in a["class"].split()]
    topo = train.maker.fgraph.toposort()
    composites = [n for n in topo if isinstance(getattr(n.op, "scalar_op", None), Composite)]
    assert len(fused) == len(composites) > 0
    for a in fused:
        node = topo[int(a["data-pos"])]
        steps = dom.nodes(f"compiled/{a['data-id']}", "step")
        assert [s["data-label"] for s in steps] == [op.name for op, _, _ in node.op.scalar_op.steps]
        assert "expanded" in a["class"].split()


@needs_browser
def test_screenshot_of_the_view(tmp_path):
    train, _, _ = logistic_regression()
    page = tmp_path / "train.html"
    theanine.d3viz(train, page)
    shot = tmp_path / "shot.png"
    browser(page, "--hide-scrollbars", "--window-size=1200,800", f"--screenshot={shot}",
            page.as_uri())
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 20_000  # a drawn page, not a blank one


def test_hover_shapes_match_what_the_function_returns():
    train, _, data = logistic_regression()
    results = train(*data)
    view = compiled_view(train)
    outputs = {b.full: dict(b.info) for b in view.boxes if b.kind == "output"}
    assert outputs["output 0"]["shape"] == str(np.shape(results[0]))
    assert outputs["output 1"]["shape"] == str(np.shape(results[1]))
    w = next(v for v in train.shared_vars if v.name == "w")
    assert outputs["update of w"]["shape"] == str(w.get_value().shape)
    assert outputs["update of b"]["shape"] == "()"


def test_shapes_are_folded_from_infer_shape_without_test_values():
    W = theanine.shared(np.ones((3, 4)), name="W")
    v = T.dvector("v")  # no test value: its extent stays unknown
    f = theanine.function([v], [T.dot(W, W.T) + 1, T.dot(W.T, v[:3])])
    square, product = f(np.ones(6))
    outputs = {b.full: dict(b.info) for b in compiled_view(f).boxes if b.kind == "output"}
    assert outputs["output 0"]["shape"] == str(square.shape) == "(3, 3)"
    assert outputs["output 1"]["shape"] == "(4,)" == str(product.shape)
    v_box = next(b for b in compiled_view(f).boxes if b.full == "v")
    assert dict(v_box.info)["shape"] == "(?,)"


def test_hover_provenance_is_what_the_rewriter_recorded():
    train, _, _ = logistic_regression()
    view = compiled_view(train)
    boxes = {b.pos: dict(b.info) for b in view.boxes if b.kind == "apply"}
    for k, node in enumerate(train.maker.fgraph.toposort()):
        made_by = node.tag.get("provenance")
        assert boxes[k]["made by"] == (", ".join(made_by) if made_by else "as written")
        if node.tag.get("source"):
            assert boxes[k]["computes"] == node.tag["source"]
    assert any(b["made by"] != "as written" for b in boxes.values())


@pytest.mark.parametrize("engine", ["layered", "dot"])
def test_layouts_put_data_downward_without_overlaps(engine):
    if engine == "dot" and shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed")
    train, _, _ = logistic_regression()
    for view in (compiled_view(train), original_view(train)):
        place(view, engine)
        boxes = {b.id: b for b in view.boxes}
        for e in view.edges:
            assert boxes[e.target].y > boxes[e.source].y, (e.source, e.target)
        for a in view.boxes:
            for b in view.boxes:
                if a is not b and abs(a.y - b.y) < (a.height + b.height) / 2:
                    assert abs(a.x - b.x) >= (a.width + b.width) / 2 - 1, (a.full, b.full)
            assert 0 <= a.x - a.width / 2 and a.x + a.width / 2 <= view.width
            assert 0 <= a.y - a.height / 2 and a.y + a.height / 2 <= view.height


def test_both_spellings_write_the_same_page(tmp_path):
    train, _, _ = logistic_regression()
    a, b = tmp_path / "a.html", tmp_path / "sub" / "b.html"
    assert theanine.d3viz(train, a) == str(a)
    assert theanine.d3viz.d3viz(train, str(b), layout="layered") == str(b)
    theanine.d3viz.d3viz(train, b, layout="auto")
    assert a.read_text() == b.read_text()


def test_names_cannot_break_out_of_the_embedded_data(tmp_path):
    x = T.dvector("</script><b>x")
    page = tmp_path / "p.html"
    theanine.d3viz(theanine.function([x], x * 2), page)
    doc = parse(page.read_text())
    payload = json.loads(next(s for s in doc.scripts if s.lstrip().startswith("{")))
    labels = {n["full"] for g in payload["graphs"] for n in g["nodes"]}
    assert "</script><b>x" in labels
    assert [t for t, _ in doc.items].count("b") == 0


def test_variables_and_unpickled_functions(tmp_path):
    x = T.dvector("x")
    outputs = [T.exp(x), x + 1]
    theanine.d3viz(outputs, tmp_path / "v.html")
    payload = (tmp_path / "v.html").read_text()
    assert f"as written: {len(io_toposort([x], outputs))} node(s)" in payload
    f = pickle.loads(pickle.dumps(theanine.function([x], T.exp(x) * 2)))
    view = original_view(f)  # only the rewritten graph is pickled
    assert view.boxes == [] and "unpickled" in view.note


def test_bad_arguments_name_what_was_given(tmp_path):
    x = T.dvector("x")
    f = theanine.function([x], x + 1)
    with pytest.raises(TypeError, match="compiled function.*got int 3"):
        theanine.d3viz(3, tmp_path / "a.html")
    with pytest.raises(TypeError, match="outfile must be a file path.*got list"):
        theanine.d3viz(f, ["a.html"])
    with pytest.raises(ValueError, match="layout must be one of auto, dot, layered, got 'neato'"):
        theanine.d3viz(f, tmp_path / "a.html", layout="neato")


def test_show_command_writes_the_view_of_a_module_function(tmp_path, monkeypatch, capsys):
    (tmp_path / "mymodel.py").write_text(textwrap.dedent("""
        import theanine, theanine.tensor as T
        x = T.dvector("x")
        train = theanine.function([x], T.exp(x) * 2 + 1)
        if __name__ == "__main__":
            raise SystemExit("the script's main block must not run")
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["show", "mymodel:train", "-o", "out/m.html"]) == 0
    assert "wrote out/m.html" in capsys.readouterr().out
    import mymodel

    doc = parse((tmp_path / "out" / "m.html").read_text())
    payload = json.loads(next(s for s in doc.scripts if s.lstrip().startswith("{")))
    compiled = [n for n in payload["graphs"][0]["nodes"] if n["kind"] == "apply"]
    assert [n["full"] for n in compiled] == [str(n.op) for n in
                                            mymodel.train.maker.fgraph.toposort()]
    assert cli.main(["show", str(tmp_path / "mymodel.py") + ":train", "--layout",
                     "layered"]) == 0
    assert (tmp_path / "train.html").exists()
    assert cli.main(["show", "mymodel:x.name"]) == 2
    assert "got str 'x'" in capsys.readouterr().err
    assert cli.main(["show", "mymodel"]) == 2
    assert "expected MODULE:NAME" in capsys.readouterr().err
    assert cli.main(["show", "mymodel:nothing"]) == 2
    assert "defines no 'nothing'" in capsys.readouterr().err


def test_without_graphviz_auto_uses_the_builtin_layout(monkeypatch, tmp_path):
    train, _, _ = logistic_regression()
    monkeypatch.setattr("theanine.d3viz.layout.shutil.which", lambda name: None)
    view = compiled_view(train)
    place(view, "auto")
    layered = compiled_view(train)
    place(layered, "layered")
    assert [(b.x, b.y) for b in view.boxes] == [(b.x, b.y) for b in layered.boxes]
    with pytest.raises(RuntimeError, match="needs graphviz's `dot`.*layout='layered'"):
        theanine.d3viz(train, tmp_path / "a.html", layout="dot")
