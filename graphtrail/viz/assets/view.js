/* graphtrail browser view.
 *
 * Every string in the data may come from a log and is hostile: it only ever reaches the page through
 * textContent (or the canvas), never as markup. Tooltips are our own element filled with text, not vis-network's
 * `title`, which some versions render as HTML.
 */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("gt-data").textContent);
  const colors = data.colors;
  const nodeInfo = new Map(data.nodes.map((n) => [n.id, n]));
  const edgeInfo = new Map(data.edges.map((e) => [e.id, e]));
  const findingInfo = new Map(data.findings.map((f) => [f.id, f]));
  const edgesOf = new Map(data.nodes.map((n) => [n.id, []]));
  for (const e of data.edges) {
    edgesOf.get(e.from).push(e.id);
    if (e.to !== e.from) edgesOf.get(e.to).push(e.id);
  }
  const big = data.edges.length > 2500;
  // With many attack-path edges drawn at once, thinner red lines keep the overview legible.
  const crowded = data.edges.filter((e) => e.step !== null).length > 60;
  // Dimming the rest means restyling every item, which vis-network does at about 0.15 ms each: past
  // data.dim_limit items a highlight only restyles the path (thick red) and selects its nodes, so a click
  // answers in well under a second.
  const dimming = data.nodes.length + data.edges.length <= data.dim_limit;

  const state = { highlight: null, active: null, until: null };

  // -- small DOM helpers: text only ----------------------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }
  function severity(text) {
    return el("span", "sev sev-" + String(text).replace(/[^a-z]/g, ""), text);
  }
  function joined(values) {
    return Array.isArray(values) ? values.join(", ") : String(values);
  }
  function shown(value) {
    if (value === null || value === undefined || value === "") return null;
    if (Array.isArray(value)) return value.length ? value.join("\n") : null;
    if (typeof value === "object") {
      const lines = Object.entries(value).map(([k, v]) => k + ": " + (typeof v === "object" ? JSON.stringify(v) : v));
      return lines.length ? lines.join("\n") : null;
    }
    return String(value);
  }

  // -- vis-network items ---------------------------------------------------------------------------------------
  // What changes with the highlight and the time filter; the rest of an item is set once.
  function nodeState(n) {
    const lit = isLit("node", n.id);
    return {
      id: n.id,
      hidden: !nodeVisible(n.id),
      opacity: lit ? 1 : 0.18,
      font: {
        size: n.entry ? 15 : 13,
        color: lit ? (n.entry ? "#92400e" : "#0f172a") : "#cbd5e1",
        bold: n.entry ? { color: "#92400e" } : undefined,
      },
    };
  }
  function nodeItem(n) {
    return Object.assign(nodeState(n), {
      label: (n.entry ? "▶ ENTRY  " : "") + n.label,
      shape: n.shape,
      x: n.x,
      y: n.y,
      borderWidth: n.entry ? 5 : 1.5,
      color: {
        background: n.color,
        border: n.entry ? colors.entry : n.border,
        highlight: { background: n.color, border: "#0f172a" },
        hover: { background: n.color, border: "#0f172a" },
      },
      size: n.shape === "box" ? undefined : 14,
    });
  }

  function edgeState(e) {
    const lit = isLit("edge", e.id);
    const strong = state.highlight ? state.highlight.edges.has(e.id) : e.step !== null;
    const color = strong ? colors.path : e.structural ? colors.structural : colors.edge;
    return {
      id: e.id,
      hidden: !edgeVisible(e),
      width: strong ? (crowded && !state.highlight ? 2.2 : 4.5) : e.structural ? 1 : 1.6,
      arrows: { to: { enabled: true, scaleFactor: strong ? 0.9 : 0.6 } },
      color: { color: color, highlight: strong ? colors.path : "#0f172a", hover: "#0f172a", opacity: lit ? 1 : 0.12 },
      font: {
        size: strong ? 15 : e.structural ? 10 : 12,
        color: lit ? (strong ? "#991b1b" : e.structural ? "#94a3b8" : "#334155") : "rgba(0,0,0,0)",
        strokeWidth: lit ? 3 : 0,
        strokeColor: "#ffffff",
        bold: strong ? { color: "#991b1b" } : undefined,
        align: "horizontal",
      },
    };
  }
  function edgeItem(e) {
    return Object.assign(edgeState(e), {
      from: e.from,
      to: e.to,
      label: big && e.structural ? undefined : e.label,
      dashes: e.failed ? [6, 5] : false,
      // Parallel edges fan out a little, alternating sides; past a few they overlap rather than loop wide.
      smooth: e.parallel
        ? { enabled: true, type: e.parallel % 2 ? "curvedCW" : "curvedCCW", roundness: 0.1 + 0.08 * (Math.ceil(e.parallel / 2) % 5) }
        : false,
    });
  }

  function isLit(what, id) {
    if (!state.highlight || !dimming) return true;
    return what === "node" ? state.highlight.nodes.has(id) : state.highlight.edges.has(id);
  }
  function edgeVisible(e) {
    return state.until === null || (e.first || "") <= state.until;
  }
  function nodeVisible(id) {
    if (state.until === null) return true;
    const own = edgesOf.get(id);
    if (own.length) return own.some((eid) => edgeVisible(edgeInfo.get(eid)));
    return (nodeInfo.get(id).first || "") <= state.until;
  }

  const nodes = new vis.DataSet(data.nodes.map(nodeItem));
  const edges = new vis.DataSet(data.edges.map(edgeItem));
  const container = document.getElementById("graph");
  const network = new vis.Network(
    container,
    { nodes: nodes, edges: edges },
    {
      physics: { enabled: false },
      layout: { improvedLayout: false, randomSeed: 1 },
      interaction: {
        hover: !big,
        tooltipDelay: 120,
        hideEdgesOnDrag: big,
        hideEdgesOnZoom: big,
        multiselect: false,
        navigationButtons: false,
        keyboard: { enabled: true, bindToWindow: false },
      },
      nodes: { font: { face: "DejaVu Sans, system-ui, sans-serif" }, widthConstraint: { maximum: 240 } },
      edges: { selectionWidth: 1.5, hoverWidth: 0.8, font: { face: "DejaVu Sans, system-ui, sans-serif" } },
    }
  );

  // Only items whose state changed are handed to vis-network: updating thousands of unchanged ones is slow.
  const shownState = new Map();
  function changed(kind, states) {
    return states.filter((item) => {
      const key = kind + item.id;
      const text = JSON.stringify(item);
      if (shownState.get(key) === text) return false;
      shownState.set(key, text);
      return true;
    });
  }
  function redraw() {
    nodes.update(changed("n", data.nodes.map(nodeState)));
    edges.update(changed("e", data.edges.map(edgeState)));
  }
  changed("n", data.nodes.map(nodeState)); // what the DataSets were created with
  changed("e", data.edges.map(edgeState));

  // -- highlighting a finding or an incident -----------------------------------------------------------------------
  function highlight(edgeIds, source) {
    const edgeSet = new Set(edgeIds);
    const nodeSet = new Set();
    for (const id of edgeSet) {
      const e = edgeInfo.get(id);
      nodeSet.add(e.from);
      nodeSet.add(e.to);
    }
    state.highlight = { edges: edgeSet, nodes: nodeSet };
    setActive(source);
    redraw();
    if (!dimming) network.setSelection({ nodes: Array.from(nodeSet), edges: [] }, { unselectAll: true, highlightEdges: false });
    if (nodeSet.size) network.fit({ nodes: Array.from(nodeSet), animation: false });
  }
  function clearHighlight() {
    state.highlight = null;
    setActive(null);
    redraw();
    if (!dimming) network.unselectAll();
  }
  function setActive(button) {
    if (state.active) state.active.classList.remove("active");
    state.active = button;
    if (button) button.classList.add("active");
  }

  // -- side panel ------------------------------------------------------------------------------------------------
  document.getElementById("title").textContent = data.title;
  document.getElementById("summary").textContent =
    "Showing " + data.focus + ": " + data.nodes.length + " nodes, " + data.edges.length + " edges, " +
    data.incidents.length + " incidents, " + data.findings.length + " findings.";
  if (data.hint) {
    const hint = document.getElementById("hint");
    hint.textContent = data.hint;
    hint.hidden = false;
  }

  const incidentList = document.getElementById("incidents");
  const listed = new Set();
  function findingButton(f) {
    const li = el("li");
    const button = el("button", "finding");
    button.type = "button";
    button.dataset.finding = f.id;
    button.appendChild(severity(f.severity));
    button.appendChild(document.createTextNode(f.title));
    button.addEventListener("click", () => {
      highlight(f.edges, button);
      showFinding(f);
    });
    li.appendChild(button);
    return li;
  }
  for (const incident of data.incidents) {
    const li = el("li");
    const head = el("button", "incident-head");
    head.type = "button";
    head.dataset.incident = incident.id;
    head.appendChild(severity(incident.severity));
    head.appendChild(document.createTextNode("#" + incident.number + " " + incident.id + " · " + incident.findings.length + " findings"));
    const members = incident.findings.map((id) => findingInfo.get(id)).filter(Boolean);
    head.addEventListener("click", () => highlight(members.flatMap((f) => f.edges), head));
    li.appendChild(head);
    if (incident.entry) {
      const entry = incident.entry;
      li.appendChild(el("p", "entry", "entry: " + [entry.principal, entry.access_key, entry.source_ip].filter(Boolean).join(" · ") + " at " + entry.time));
    }
    li.appendChild(el("p", "muted", (incident.first || "") + " → " + (incident.last || "")));
    const list = el("ol");
    for (const f of members) {
      list.appendChild(findingButton(f));
      listed.add(f.id);
    }
    li.appendChild(list);
    incidentList.appendChild(li);
  }
  const others = data.findings.filter((f) => !listed.has(f.id));
  if (others.length) {
    const li = el("li");
    li.appendChild(el("p", "incident-head", "Other findings"));
    const list = el("ol");
    others.forEach((f) => list.appendChild(findingButton(f)));
    li.appendChild(list);
    incidentList.appendChild(li);
  }
  if (!data.incidents.length && !others.length) incidentList.appendChild(el("li", "muted", "No incident in this view."));
  document.getElementById("reset").addEventListener("click", () => {
    state.until = null;
    timeInput.value = timeInput.max;
    showTime();
    clearHighlight();
    network.fit({ animation: false });
  });

  // -- legend ----------------------------------------------------------------------------------------------------
  const glyphs = { dot: "●", box: "■", square: "■", diamond: "◆", hexagon: "⬢", star: "★", triangle: "▲",
    triangleDown: "▼", database: "⛁" };
  const legend = document.getElementById("legend");
  for (const item of data.legend) {
    const row = el("div");
    // An ellipse has no glyph in common fonts: drawn with CSS instead.
    const glyph = el("span", item.shape === "ellipse" ? "glyph oval" : "glyph", item.shape === "ellipse" ? "" : glyphs[item.shape] || "●");
    glyph.style.color = item.color;
    glyph.style.setProperty("--border", item.border);
    if (item.shape === "ellipse") {
      glyph.style.background = item.color;
      glyph.style.border = "1px solid " + item.border;
    }
    row.appendChild(glyph);
    row.appendChild(el("span", null, item.meaning));
    legend.appendChild(row);
  }
  function legendLine(style, text) {
    const row = el("div", "wide");
    const line = el("span", "line");
    line.style.cssText = style;
    row.appendChild(line);
    row.appendChild(el("span", null, text));
    legend.appendChild(row);
  }
  legendLine("border-top: 4px solid " + colors.path, "attack path, numbered in time order");
  legendLine("border-top: 2px dashed " + colors.edge, "calls that failed (all refused)");
  legendLine("border-top: 1px solid " + colors.structural, "credential links: acts as, minted, from, session of");
  const entryRow = el("div", "wide");
  const ring = el("span", "glyph", "○");
  ring.style.color = colors.entry;
  ring.style.fontWeight = "bold";
  entryRow.appendChild(ring);
  entryRow.appendChild(el("span", null, "▶ ENTRY: where the attacker came in"));
  legend.appendChild(entryRow);

  // -- tooltips: our own element, text only --------------------------------------------------------------------------
  const tooltip = document.getElementById("tooltip");
  function tipLines(kind, id) {
    if (kind === "node") {
      const n = nodeInfo.get(id);
      const p = n.props || {};
      return [
        n.kind + (n.entry ? " (entry point)" : ""),
        n.key + (n.copy ? "  (drawn again beside this incident)" : ""),
        n.account ? "account " + n.account : null,
        "first seen " + (n.first || "?") + "\nlast seen  " + (n.last || "?"),
        p.owner ? "owner " + p.owner : null,
        p.lineage ? "lineage " + p.lineage + (p.minted_by ? " (minted by " + p.minted_by + ")" : "") : null,
        p.source_ips ? "IPs " + joined(p.source_ips) : null,
        p.user_agents ? "user agents " + joined(p.user_agents) : null,
        n.evidence.length ? "events " + n.evidence.slice(0, 3).join(", ") + (n.evidence.length > 3 ? " …" : "") : null,
      ];
    }
    const e = edgeInfo.get(id);
    return [
      (e.step !== null ? "step " + e.step + ": " : "") + e.type + (e.count ? " ×" + e.count : "") + (e.errors ? ", " + e.errors + " failed" : ""),
      e.src + " → " + e.dst,
      "first seen " + (e.first || "?") + "\nlast seen  " + (e.last || "?"),
      e.keys.length ? "keys " + joined(e.keys) : null,
      e.ips.length ? "IPs " + joined(e.ips) : null,
      e.agents.length ? "user agents " + joined(e.agents) : null,
      e.event_ids.length ? "events " + e.event_ids.slice(0, 3).join(", ") + (e.event_ids.length > 3 ? " …" : "") : null,
    ];
  }
  function showTip(kind, id, pointer) {
    tooltip.textContent = tipLines(kind, id).filter(Boolean).join("\n");
    tooltip.hidden = false;
    const box = container.getBoundingClientRect();
    tooltip.style.left = Math.min(pointer.x + 14, box.width - 470) + "px";
    tooltip.style.top = Math.min(pointer.y + 14, box.height - tooltip.offsetHeight - 4) + "px";
  }
  network.on("hoverNode", (p) => showTip("node", p.node, p.pointer.DOM));
  network.on("hoverEdge", (p) => showTip("edge", p.edge, p.pointer.DOM));
  network.on("blurNode", () => { tooltip.hidden = true; });
  network.on("blurEdge", () => { tooltip.hidden = true; });
  network.on("dragStart", () => { tooltip.hidden = true; });

  // -- details drawer ------------------------------------------------------------------------------------------------
  const details = document.getElementById("details");
  const body = document.getElementById("details-body");
  document.getElementById("close-details").addEventListener("click", () => { details.hidden = true; });
  function facts(pairs) {
    const dl = el("dl");
    for (const [name, value] of pairs) {
      const text = shown(value);
      if (text === null) continue;
      dl.appendChild(el("dt", null, name));
      dl.appendChild(el("dd", null, text));
    }
    return dl;
  }
  function eventTable(ids) {
    const known = ids.map((id) => data.events[id]).filter(Boolean);
    if (!known.length) return el("p", "muted", "No evidence events carried for this item.");
    const table = el("table");
    const head = el("tr");
    ["time", "action", "actor", "key", "IP", "user agent", "error", "event id"].forEach((h) => head.appendChild(el("th", null, h)));
    table.appendChild(head);
    for (const ev of known) {
      const row = el("tr", ev.error ? "failed" : null);
      [ev.time, ev.name + (ev.target ? " → " + ev.target : ""), ev.actor, ev.key, ev.ip, ev.agent, ev.error, ev.id].forEach((v) => row.appendChild(el("td", null, v || "")));
      table.appendChild(row);
    }
    return table;
  }
  function openDetails(title, parts) {
    clear(body);
    body.appendChild(el("h3", null, title));
    parts.forEach((p) => body.appendChild(p));
    details.hidden = false;
  }
  function showNode(id) {
    const n = nodeInfo.get(id);
    openDetails(n.label, [
      facts([["kind", n.kind + (n.entry ? " (entry point)" : "")], ["key", n.key], ["account", n.account],
        ["first seen", n.first], ["last seen", n.last], ...Object.entries(n.props || {})]),
      el("h4", null, "Evidence events (" + n.evidence.length + " shown)"),
      eventTable(n.evidence),
    ]);
  }
  function showEdge(id) {
    const e = edgeInfo.get(id);
    openDetails((e.step !== null ? e.step + ". " : "") + e.type, [
      facts([["from", e.src], ["to", e.dst], ["calls", e.count], ["failed", e.errors], ["errors", e.error_codes],
        ["first seen", e.first], ["last seen", e.last], ["keys", e.keys], ["IPs", e.ips], ["user agents", e.agents],
        ["hands over control", e.traversable ? "yes" : null], ["facts", e.facts], ["event ids", e.event_ids]]),
      el("h4", null, "Evidence events"),
      eventTable(e.event_ids),
    ]);
  }
  function showFinding(f) {
    const hops = el("ol", "hops");
    for (const hop of f.hops) {
      const item = el("li");
      item.appendChild(el("div", "hop-when", hop.time + "  " + [hop.key, hop.ip].filter(Boolean).join(" from ")));
      item.appendChild(el("div", "hop-step", hop.src + "  —" + hop.action + "→  " + hop.dst));
      const more = hop.event_count > hop.events.length ? " (+" + (hop.event_count - hop.events.length) + ")" : "";
      item.appendChild(el("div", "hop-events", "events " + hop.events.join(", ") + more));
      hops.appendChild(item);
    }
    openDetails(f.title, [
      facts([["finding", f.id], ["severity", f.severity], ["confidence", f.confidence], ["category", f.category],
        ["ATT&CK", f.attack], ["hunt", f.hunt], ["when", f.first + " → " + f.last], ["incident", f.incident ? "#" + f.incident : null]]),
      el("p", "narrative", f.narrative),
      el("h4", null, "Path"),
      hops,
    ]);
  }
  network.on("click", (p) => {
    if (p.nodes.length) showNode(p.nodes[0]);
    else if (p.edges.length) showEdge(p.edges[0]);
  });

  // -- search --------------------------------------------------------------------------------------------------------
  const search = document.getElementById("search");
  const matches = document.getElementById("matches");
  const haystack = data.nodes.map((n) => [n.id, (n.key + "\n" + n.label + "\n" + Object.values(n.props || {}).flat().join("\n")).toLowerCase()]);
  function find(text) {
    const wanted = text.trim().toLowerCase();
    if (!wanted) return [];
    // The key itself first (whole, then in part), then nodes whose label or properties mention it.
    const keyOf = (id) => nodeInfo.get(id).key.toLowerCase();
    const rank = (id) => (keyOf(id) === wanted ? 0 : keyOf(id).includes(wanted) ? 1 : 2);
    const found = haystack.filter(([, hay]) => hay.includes(wanted)).map(([id]) => id);
    return found.sort((a, b) => rank(a) - rank(b)).slice(0, 30);
  }
  function goTo(id) {
    network.selectNodes([id]);
    network.focus(id, { scale: Math.max(network.getScale(), 1), animation: false });
    showNode(id);
  }
  search.addEventListener("input", () => {
    clear(matches);
    for (const id of find(search.value)) {
      const li = el("li");
      const button = el("button", null, nodeInfo.get(id).kind + ": " + nodeInfo.get(id).key);
      button.type = "button";
      button.dataset.node = id;
      button.addEventListener("click", () => goTo(id));
      li.appendChild(button);
      matches.appendChild(li);
    }
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      const first = find(search.value)[0];
      if (first) goTo(first);
    }
  });

  // -- time filter and replay ----------------------------------------------------------------------------------------
  const timeInput = document.getElementById("time");
  const timeLabel = document.getElementById("time-label");
  const first = data.time.first ? Date.parse(data.time.first) : null;
  const last = data.time.last ? Date.parse(data.time.last) : null;
  function isoAt(position) {
    const ms = first + ((last - first) * position) / Number(timeInput.max);
    return new Date(Math.round(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
  }
  function showTime() {
    const count = data.edges.filter(edgeVisible).length;
    timeLabel.textContent = state.until === null
      ? "all time (" + (data.time.first || "?") + " → " + (data.time.last || "?") + "), " + count + " edges"
      : state.until + ": " + count + " of " + data.edges.length + " edges";
  }
  function setUntil(iso) {
    state.until = iso;
    showTime();
    redraw();
  }
  if (first === null) {
    timeInput.disabled = true;
  }
  timeInput.addEventListener("input", () => {
    const position = Number(timeInput.value);
    setUntil(position >= Number(timeInput.max) ? null : isoAt(position));
  });
  let playing = null;
  document.getElementById("play").addEventListener("click", () => {
    if (playing) {
      clearInterval(playing);
      playing = null;
      return;
    }
    const steps = Array.from(new Set(data.edges.filter((e) => e.step !== null || data.edges.length < 400).map((e) => e.first).filter(Boolean))).sort();
    let i = 0;
    playing = setInterval(() => {
      if (i >= steps.length) {
        clearInterval(playing);
        playing = null;
        timeInput.value = timeInput.max;
        setUntil(null);
        return;
      }
      const at = steps[i++];
      timeInput.value = String(Math.round(((Date.parse(at) - first) / Math.max(1, last - first)) * Number(timeInput.max)));
      setUntil(at);
    }, 600);
  });
  showTime();

  // -- what tests and benchmarks ask the page ----------------------------------------------------------------------
  const api = {
    ready: false,
    drawn() {
      const body = network.body;
      return {
        nodes: body.nodeIndices.filter((id) => !body.nodes[id].options.hidden).length,
        edges: body.edgeIndices.filter((id) => !body.edges[id].options.hidden && body.edges[id].connected).length,
      };
    },
    highlighted() {
      const body = network.body;
      // Read back from what vis-network draws: not hidden, not dimmed, and (without dimming) selected or thick.
      const lit = (item) => !item.options.hidden && (item.options.opacity === undefined || item.options.opacity === 1);
      const litNode = (item) => lit(item) && (!state.highlight || dimming || item.selected);
      const litEdge = (item) => !item.options.hidden && item.options.color.opacity === 1 &&
        (!state.highlight || dimming || item.options.width >= 4);
      return {
        nodes: body.nodeIndices.filter((id) => litNode(body.nodes[id])),
        edges: body.edgeIndices.filter((id) => litEdge(body.edges[id])),
      };
    },
    visibleEdges() {
      return edges.get({ filter: (item) => !item.hidden }).map((item) => item.id);
    },
    setUntil: setUntil,
    domPosition(id) {
      const point = network.canvasToDOM(network.getPosition(id));
      const box = container.getBoundingClientRect();
      return { x: box.left + point.x, y: box.top + point.y };
    },
    edge(id) {
      return edgeInfo.get(id);
    },
  };
  window.graphtrail = api;
  // A large overview opens on the worst incident (the side panel lists the rest; "Show everything" zooms out).
  function openingView() {
    const worst = data.incidents[0];
    if (!worst || data.incidents.length < 2 || (data.incidents.length < 3 && data.nodes.length <= 150)) return null;
    const ids = new Set();
    for (const fid of worst.findings) {
      const f = findingInfo.get(fid);
      for (const eid of f ? f.edges : []) {
        ids.add(edgeInfo.get(eid).from);
        ids.add(edgeInfo.get(eid).to);
      }
    }
    return ids.size ? Array.from(ids) : null;
  }
  network.once("afterDrawing", () => {
    const opening = openingView();
    network.fit(opening ? { nodes: opening, animation: false } : { animation: false });
    if (opening) {
      document.getElementById("summary").textContent +=
        " Opened on the worst incident, #" + data.incidents[0].number + ": \"Show everything\" zooms out.";
    }
    requestAnimationFrame(() => {
      api.readyAt = performance.now(); // milliseconds since navigation started
      api.ready = true;
      document.body.dataset.ready = "true";
    });
  });
  network.redraw();
})();
