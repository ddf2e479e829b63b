"""The HTML view's script and style, kept as text so the page is one self-contained file (no
network, no library): the script builds the SVG from the graph data embedded in the page."""

STYLE = """
body { font: 13px system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { padding: 8px 14px; border-bottom: 1px solid #ddd; background: #fff; }
header h1 { font-size: 16px; margin: 0 0 4px 0; }
header p { margin: 2px 0; color: #555; }
.legend span { display: inline-block; padding: 1px 7px; margin-right: 6px; border: 1px solid #999;
  border-radius: 3px; font-size: 12px; }
main { display: flex; gap: 10px; padding: 10px; }
.panel { flex: 1 1 0; min-width: 0; background: #fff; border: 1px solid #ccc; border-radius: 4px; }
.panel h2 { font-size: 14px; margin: 0; padding: 6px 10px; border-bottom: 1px solid #eee; }
.panel p.note { margin: 4px 10px; color: #666; font-size: 12px; }
svg.graph { width: 100%; height: calc(100vh - 170px); min-height: 320px; cursor: grab;
  display: block; }
.node rect.shape { stroke: #555; stroke-width: 1; }
.node text { font: 12px ui-monospace, monospace; pointer-events: none; }
.kind-apply rect.shape, .legend .kind-apply { fill: #ffe7b0; background: #ffe7b0; }
.fused > rect.shape, .legend .fused { fill: #ffc9d6; background: #ffc9d6; cursor: pointer; }
.kind-input rect.shape, .legend .kind-input { fill: #b9efb9; background: #b9efb9; }
.kind-shared rect.shape, .legend .kind-shared { fill: #b6ecf4; background: #b6ecf4; }
.kind-constant rect.shape, .legend .kind-constant { fill: #e8e8e8; background: #e8e8e8; }
.kind-output rect.shape, .legend .kind-output { fill: #bccffb; background: #bccffb; }
.kind-step rect.shape { fill: #fff6d8; }
.node.expanded > rect.shape { fill: #fff0f4; stroke-dasharray: 4 2; }
.node:hover > rect.shape { stroke: #000; stroke-width: 2; }
.edge path { fill: none; stroke: #888; stroke-width: 1.2; }
.edge.kind-view path { stroke: #2a5bd7; }
.edge.kind-destroy path { stroke: #d22; }
.edge text { font: 10px ui-monospace, monospace; fill: #666; }
#tip { position: fixed; max-width: 560px; background: #fff; border: 1px solid #888;
  box-shadow: 2px 2px 6px rgba(0,0,0,.2); padding: 6px 9px; font-size: 12px; z-index: 10;
  pointer-events: none; }
#tip dl { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; }
#tip dt { color: #666; } #tip dd { margin: 0; font-family: ui-monospace, monospace;
  word-break: break-word; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const PAD = 10, HEAD = 30;
  const data = JSON.parse(document.getElementById("theanine-graph").textContent);
  const tip = document.getElementById("tip");
  const panels = [];

  function make(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) {
      if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    }
    if (parent) parent.appendChild(e);
    return e;
  }

  function showTip(evt, node) {
    tip.replaceChildren();
    const dl = document.createElement("dl");
    for (const [k, v] of node.info) {
      const dt = document.createElement("dt"); dt.textContent = k; dl.appendChild(dt);
      const dd = document.createElement("dd"); dd.textContent = v; dl.appendChild(dd);
    }
    tip.appendChild(dl);
    tip.hidden = false;
    moveTip(evt);
  }

  function moveTip(evt) {
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.max(0, Math.min(evt.clientX + 14, window.innerWidth - w - 4)) + "px";
    tip.style.top = Math.max(0, Math.min(evt.clientY + 14, window.innerHeight - h - 4)) + "px";
  }

  function edgePath(a, b, points) {
    const all = [[a.x, a.y + a.h / 2]].concat(points, [[b.x, b.y - b.h / 2]]);
    let d = "M" + all[0][0] + "," + all[0][1];
    for (let i = 1; i < all.length; i++) {
      const [x0, y0] = all[i - 1], [x1, y1] = all[i], m = (y1 - y0) / 2;
      d += " C" + x0 + "," + (y0 + m) + " " + x1 + "," + (y1 - m) + " " + x1 + "," + y1;
    }
    return d;
  }

  // Draw a graph's boxes and edges into `parent`; returns its state for relayout.
  function drawGraph(parent, graph, path, marker) {
    const state = {graph: graph, recs: [], byId: {}, edges: []};
    const edgeLayer = make("g", {"class": "edges"}, parent);
    const nodeLayer = make("g", {"class": "nodes"}, parent);
    for (const n of graph.nodes) {
      const cls = "node kind-" + n.kind + (n.fused ? " fused" : "");
      const g = make("g", {"class": cls, "data-graph": path, "data-id": n.id,
                           "data-label": n.full, "data-kind": n.kind,
                           "data-pos": n.pos === null ? null : String(n.pos)}, nodeLayer);
      const round = n.kind === "apply" || n.kind === "step";
      const rect = make("rect", {"class": "shape", rx: round ? 13 : 3}, g);
      const text = make("text", {"class": "label", "text-anchor": "middle",
                                 "dominant-baseline": "central"}, g);
      text.textContent = (n.fused ? "\u229e " : "") + n.label;
      const rec = {n: n, g: g, rect: rect, text: text, x: n.x, y: n.y, w: n.w, h: n.h,
                   expanded: false, inner: null, fw: n.w, fh: n.h};
      if (n.fused) {
        rec.fw = Math.max(n.w, n.fused.width + 2 * PAD);
        rec.fh = n.fused.height + HEAD + PAD;
        g.addEventListener("click", function (evt) {
          evt.stopPropagation();
          if (state.panel && state.panel.dragged) return;
          setExpanded(rec, !rec.expanded, path);
          relayout(state);
        });
      }
      g.addEventListener("mouseenter", function (evt) { showTip(evt, n); });
      g.addEventListener("mousemove", moveTip);
      g.addEventListener("mouseleave", function () { tip.hidden = true; });
      state.recs.push(rec);
      state.byId[n.id] = rec;
    }
    for (const e of graph.edges) {
      const g = make("g", {"class": "edge kind-" + e.kind, "data-from": e.from,
                           "data-to": e.to}, edgeLayer);
      make("title", {}, g).textContent = e.title;
      const p = make("path", {"marker-end": "url(#" + marker + ")"}, g);
      const t = make("text", {}, g);
      t.textContent = e.label;
      state.edges.push({e: e, path: p, text: t});
    }
    return state;
  }

  function setExpanded(rec, on, path) {
    rec.expanded = on;
    rec.g.classList.toggle("expanded", on);
    rec.text.textContent = (on ? "\u229f " : "\u229e ") + rec.n.label;
    if (on && !rec.inner) {
      const inner = make("g", {"class": "steps",
                               transform: "translate(" + PAD + "," + HEAD + ")"}, rec.g);
      const marker = rec.g.ownerSVGElement.dataset.marker;
      rec.inner = drawGraph(inner, rec.n.fused, path + "/" + rec.n.id, marker);
      rec.inner.root = inner;
      relayout(rec.inner);
    }
    if (rec.inner) rec.inner.root.style.display = on ? "" : "none";
  }

  // Positions with the expanded fused nodes grown in place: boxes in lower rows move down,
  // boxes to the right in the same row move right.
  function relayout(state) {
    const grown = state.recs.filter(r => r.expanded);
    function shifted(x0, y0) {
      let dx = 0, dy = 0;
      for (const r of grown) {
        if (y0 > r.n.y + 1) dy += r.fh - r.n.h;
        else if (Math.abs(y0 - r.n.y) <= 1 && x0 > r.n.x) dx += r.fw - r.n.w;
      }
      return [x0 + dx, y0 + dy];
    }
    let right = 0, bottom = 0;
    for (const r of state.recs) {
      [r.x, r.y] = shifted(r.n.x, r.n.y);
      r.w = r.expanded ? r.fw : r.n.w;
      r.h = r.expanded ? r.fh : r.n.h;
      r.x += (r.w - r.n.w) / 2;
      r.y += (r.h - r.n.h) / 2;
      r.g.setAttribute("transform", "translate(" + (r.x - r.w / 2) + "," + (r.y - r.h / 2) + ")");
      r.rect.setAttribute("width", r.w);
      r.rect.setAttribute("height", r.h);
      r.text.setAttribute("x", r.w / 2);
      r.text.setAttribute("y", r.expanded ? 15 : r.h / 2);
      right = Math.max(right, r.x + r.w / 2);
      bottom = Math.max(bottom, r.y + r.h / 2);
    }
    for (const ed of state.edges) {
      const a = state.byId[ed.e.from], b = state.byId[ed.e.to];
      const pts = ed.e.points.map(p => shifted(p[0], p[1]));
      for (const [px, py] of pts) { right = Math.max(right, px); bottom = Math.max(bottom, py); }
      ed.path.setAttribute("d", edgePath(a, b, pts));
      ed.text.setAttribute("x", b.x + 5);
      ed.text.setAttribute("y", b.y - b.h / 2 - 5);
    }
    state.width = right + PAD;
    state.height = bottom + PAD;
    if (state.panel) state.panel.fit();
  }

  function panel(graph, k) {
    const section = document.createElement("section");
    section.className = "panel";
    section.dataset.graph = graph.name;
    const h2 = document.createElement("h2");
    h2.textContent = graph.title;
    section.appendChild(h2);
    if (graph.note) {
      const p = document.createElement("p"); p.className = "note"; p.textContent = graph.note;
      section.appendChild(p);
    }
    const svg = make("svg", {"class": "graph", "data-graph": graph.name}, section);
    const marker = "arrow" + k;
    svg.dataset.marker = marker;
    const m = make("marker", {id: marker, viewBox: "0 0 10 10", refX: 9, refY: 5,
                              markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"},
                   make("defs", {}, svg));
    make("path", {d: "M0,0 L10,5 L0,10 z", fill: "#666"}, m);
    const root = make("g", {"class": "viewport"}, svg);
    const state = drawGraph(root, graph, graph.name, marker);
    const view = {vb: [0, 0, 100, 100], user: false, dragged: false, state: state};
    view.apply = function () { svg.setAttribute("viewBox", view.vb.join(" ")); };
    view.fit = function () {
      if (view.user) return;
      view.vb = [0, 0, Math.max(state.width, 50), Math.max(state.height, 50)];
      view.apply();
    };
    state.panel = view;
    svg.addEventListener("wheel", function (evt) {
      evt.preventDefault();
      const r = svg.getBoundingClientRect(), s = evt.deltaY > 0 ? 1.15 : 1 / 1.15, vb = view.vb;
      const px = vb[0] + (evt.clientX - r.left) / r.width * vb[2];
      const py = vb[1] + (evt.clientY - r.top) / r.height * vb[3];
      view.vb = [px - (px - vb[0]) * s, py - (py - vb[1]) * s, vb[2] * s, vb[3] * s];
      view.user = true;
      view.apply();
    }, {passive: false});
    let drag = null;
    svg.addEventListener("pointerdown", function (evt) {
      drag = {x: evt.clientX, y: evt.clientY, vb: view.vb.slice()};
      view.dragged = false;
    });
    window.addEventListener("pointermove", function (evt) {
      if (!drag) return;
      const r = svg.getBoundingClientRect();
      const s = Math.max(drag.vb[2] / r.width, drag.vb[3] / r.height);
      const dx = evt.clientX - drag.x, dy = evt.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { view.dragged = true; view.user = true; }
      view.vb = [drag.vb[0] - dx * s, drag.vb[1] - dy * s, drag.vb[2], drag.vb[3]];
      if (view.dragged) view.apply();
    });
    window.addEventListener("pointerup", function () { drag = null; });
    relayout(state);
    panels.push(view);
    return section;
  }

  function expandAll(on) {
    for (const view of panels) {
      for (const r of view.state.recs) if (r.n.fused) setExpanded(r, on, view.state.graph.name);
      view.user = false;
      relayout(view.state);
    }
  }

  const main = document.getElementById("panels");
  data.graphs.forEach(function (g, k) { main.appendChild(panel(g, k)); });
  const box = document.getElementById("expand-all");
  box.addEventListener("change", function () { expandAll(box.checked); });
  if (/(^|[#&])expand($|&)/.test(location.hash.slice(1))) { box.checked = true; expandAll(true); }
  document.body.dataset.rendered = String(panels.length);
})();
"""
