"""Where each box goes: data flows downward, one row (layer) per step of dependency.

graphviz's `dot` lays out best and is used when installed (`engine="auto"`); otherwise our own
layered layout: longest-path layers, long edges split by invisible waypoints, rows ordered by
barycentre sweeps (fewer crossings), then each box pulled towards its neighbours' centre
without overlapping its row.  Both set each box's centre and each edge's waypoints.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings

from theanine.d3viz.model import GraphView

GAP_X, GAP_Y, MARGIN, WAYPOINT_W = 28.0, 52.0, 20.0, 10.0
ENGINES = ("auto", "dot", "layered")


def place(view: GraphView, engine: str = "auto") -> None:
    """Lay out `view` (and the steps of its fused nodes) in place."""
    if engine not in ENGINES:
        raise ValueError(f"d3viz layout must be one of {', '.join(ENGINES)}, got {engine!r}")
    for box in view.boxes:
        if box.fused is not None:
            _layered(box.fused)
    if not view.boxes:
        return
    dot = shutil.which("dot") if engine != "layered" else None
    if engine == "dot" and dot is None:
        raise RuntimeError("d3viz layout='dot' needs graphviz's `dot` executable on PATH; "
                           "install graphviz or use layout='layered'")
    if dot is not None:
        try:
            _graphviz(view, dot)
            return
        except (RuntimeError, ValueError, OSError, subprocess.SubprocessError) as exc:
            if engine == "dot":
                raise
            warnings.warn(f"d3viz: graphviz's dot failed ({exc}); using the built-in layout",
                          stacklevel=3)
    _layered(view)


def _graphviz(view: GraphView, dot: str) -> None:
    lines = ["digraph G {", "  graph [rankdir=TB, nodesep=0.35, ranksep=0.55];",
             '  node [shape=box, fixedsize=true, label=""];']
    for b in view.boxes:
        lines.append(f'  "{b.id}" [width={b.width / 72:.3f}, height={b.height / 72:.3f}];')
    for e in view.edges:
        lines.append(f'  "{e.source}" -> "{e.target}";')
    lines.append("}")
    done = subprocess.run([dot, "-Tplain"], input="\n".join(lines).encode(),
                          capture_output=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace").strip() or "no output")
    boxes = {b.id: b for b in view.boxes}
    height = 0.0
    routes: dict[tuple[str, str], list[list[tuple[float, float]]]] = {}
    for line in done.stdout.decode().splitlines():
        parts = line.split()
        if parts[:1] == ["graph"]:
            view.width, height = float(parts[2]) * 72, float(parts[3]) * 72
        elif parts[:1] == ["node"]:
            box = boxes[parts[1].strip('"')]
            box.x, box.y = float(parts[2]) * 72, height - float(parts[3]) * 72
        elif parts[:1] == ["edge"]:
            n = int(parts[3])
            pts = [(float(parts[4 + 2 * k]) * 72, height - float(parts[5 + 2 * k]) * 72)
                   for k in range(n)]
            # on-curve points of the spline, without its two ends (the JS anchors those)
            key = (parts[1].strip('"'), parts[2].strip('"'))
            routes.setdefault(key, []).append(pts[3:-1:3])
    if not height:
        raise ValueError("dot gave no graph size")
    view.height = height
    for e in view.edges:
        queue = routes.get((e.source, e.target))
        e.points = queue.pop(0) if queue else []
    _shift(view, MARGIN, MARGIN)


def _shift(view: GraphView, dx: float, dy: float) -> None:
    for b in view.boxes:
        b.x, b.y = b.x + dx, b.y + dy
    for e in view.edges:
        e.points = [(x + dx, y + dy) for x, y in e.points]
    view.width += 2 * dx
    view.height += 2 * dy


def _layered(view: GraphView) -> None:
    boxes = {b.id: b for b in view.boxes}
    order = [b.id for b in view.boxes]
    preds: dict[str, list[str]] = {i: [] for i in order}
    succs: dict[str, list[str]] = {i: [] for i in order}
    for e in view.edges:
        preds[e.target].append(e.source)
        succs[e.source].append(e.target)
    rank = _ranks(order, preds, succs)
    # chains of waypoints for edges that skip rows
    width = {i: boxes[i].width for i in order}
    chains: list[list[str]] = []
    for k, e in enumerate(view.edges):
        chain = [e.source]
        for r in range(rank[e.source] + 1, rank[e.target]):
            w = f"~{k}.{r}"
            rank[w], width[w] = r, WAYPOINT_W
            preds[w], succs[w] = [chain[-1]], []
            succs[chain[-1]].append(w)
            chain.append(w)
        chain.append(e.target)
        if len(chain) > 2:
            succs[e.source].remove(e.target)
            preds[e.target].remove(e.source)
            succs[chain[-2]].append(e.target)
            preds[e.target].append(chain[-2])
        chains.append(chain)
    rows: list[list[str]] = [[] for _ in range(max(rank.values()) + 1)]
    for i in list(order) + [w for c in chains for w in c[1:-1]]:
        rows[rank[i]].append(i)
    _order_rows(rows, preds, succs)
    x = _x_positions(rows, preds, succs, width)
    y: dict[str, float] = {}
    top = MARGIN
    for row in rows:
        h = max((boxes[i].height for i in row if i in boxes), default=WAYPOINT_W)
        for i in row:
            y[i] = top + h / 2
        top += h + GAP_Y
    for i, b in boxes.items():
        b.x, b.y = x[i], y[i]
    for e, chain in zip(view.edges, chains):
        e.points = [(x[w], y[w]) for w in chain[1:-1]]
    view.width = max(x[i] + width[i] / 2 for i in x) + MARGIN
    view.height = top - GAP_Y + MARGIN


def _ranks(order: list[str], preds: dict[str, list[str]], succs: dict[str, list[str]]
           ) -> dict[str, int]:
    """Longest path from the sources; then a source sits just above its first consumer, so
    a constant read late is not drawn at the top with a long edge."""
    rank: dict[str, int] = {}
    pending = {i: len(preds[i]) for i in order}
    ready = [i for i in order if not pending[i]]
    while ready:
        i = ready.pop(0)
        rank[i] = max((rank[p] + 1 for p in preds[i]), default=0)
        for s in succs[i]:
            pending[s] -= 1
            if not pending[s]:
                ready.append(s)
    for i in order:
        if not preds[i] and succs[i]:
            rank[i] = max(0, min(rank[s] for s in succs[i]) - 1)
    return rank


def _order_rows(rows: list[list[str]], preds: dict[str, list[str]],
                succs: dict[str, list[str]], sweeps: int = 8) -> None:
    """Reorder each row by the mean position of its neighbours in the row above (going down)
    or below (going up)."""
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        indices = range(1, len(rows)) if down else range(len(rows) - 2, -1, -1)
        for r in indices:
            ref = rows[r - 1] if down else rows[r + 1]
            place = {i: k for k, i in enumerate(ref)}
            near = preds if down else succs
            current = {i: k for k, i in enumerate(rows[r])}
            scale = len(ref) / len(rows[r])

            def key(i: str, place=place, near=near, current=current, scale=scale) -> float:
                ks = [place[n] for n in near[i] if n in place]
                return sum(ks) / len(ks) if ks else current[i] * scale

            rows[r].sort(key=key)


def _x_positions(rows: list[list[str]], preds: dict[str, list[str]],
                 succs: dict[str, list[str]], width: dict[str, float], rounds: int = 6
                 ) -> dict[str, float]:
    """Pack each row left to right, then pull every box towards the mean x of its neighbours
    (alternating above and below), keeping the row's order and the gaps."""
    x: dict[str, float] = {}
    for row in rows:
        left = MARGIN
        for i in row:
            x[i] = left + width[i] / 2
            left += width[i] + GAP_X
    for k in range(rounds):
        near = preds if k % 2 == 0 else succs
        for row in rows:
            want = []
            for i in row:
                xs = [x[n] for n in near[i]]
                want.append(sum(xs) / len(xs) if xs else x[i])
            _fit(row, want, width, x)
    low = min(x[i] - width[i] / 2 for i in x)
    return {i: v - low + MARGIN for i, v in x.items()}


def _fit(row: list[str], want: list[float], width: dict[str, float], x: dict[str, float]
         ) -> None:
    """Positions as close to `want` as the row's order and gaps allow: the mean of a
    left-to-right and a right-to-left sweep, made feasible by a last left-to-right sweep."""
    n = len(row)
    sep = [(width[row[k - 1]] + width[row[k]]) / 2 + GAP_X for k in range(1, n)]
    fwd = list(want)
    for k in range(1, n):
        fwd[k] = max(fwd[k], fwd[k - 1] + sep[k - 1])
    bwd = list(want)
    for k in range(n - 2, -1, -1):
        bwd[k] = min(bwd[k], bwd[k + 1] - sep[k])
    pos = [(a + b) / 2 for a, b in zip(fwd, bwd)]
    for k in range(1, n):
        pos[k] = max(pos[k], pos[k - 1] + sep[k - 1])
    for i, p in zip(row, pos):
        x[i] = p

