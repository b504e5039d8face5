// The wallboard: draws the runtime's live snapshot (server-sent events, at most one a
// second, only when something changed) and lets the waits tick in between.
//
// Every update is the whole state (runtime/live/snapshot.py), so a page that missed
// some (a reconnect) is right again with the next one. Times come as wall-clock
// seconds: a call's "since" and the snapshot's "at"; the page keeps the offset
// between the server's clock and its own, so a wait shown here is the server's
// wait, whatever this machine's clock says. Text is set with textContent only:
// caller numbers, digits and pause reasons are never read as HTML.
(function () {
  "use strict";

  const board = document.getElementById("board");
  if (!board) {
    return;
  }
  const compact = board.classList.contains("compact");
  let offset = 0;          // this clock minus the server's, in seconds
  let last = null;         // the latest snapshot

  const STATE_WORDS = {
    ready: "free", ringing: "ringing", busy: "busy", wrap_up: "wrap-up",
    paused: "paused", logged_out: "logged out",
  };

  function serverNow() {
    return Date.now() / 1000 - offset;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) {
      return "–";
    }
    const whole = Math.max(0, Math.floor(seconds));
    const hours = Math.floor(whole / 3600);
    const minutes = Math.floor((whole % 3600) / 60);
    const rest = String(whole % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : `${Math.round(value)}%`;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  // A time that counts on by itself between updates (see tick()).
  function ticking(tag, className, since) {
    const node = element(tag, className ? `${className} ticking` : "ticking");
    node.dataset.since = since === null || since === undefined ? "" : String(since);
    node.textContent = since ? duration(serverNow() - since) : "";
    return node;
  }

  function tick() {
    const now = serverNow();
    for (const node of board.querySelectorAll(".ticking")) {
      const since = parseFloat(node.dataset.since);
      if (!isNaN(since)) {
        node.textContent = duration(now - since);
      }
    }
    const clock = document.getElementById("board-clock");
    if (clock) {
      clock.textContent = new Date(now * 1000).toLocaleTimeString();
    }
  }

  // ------------------------------------------------------------ service level

  function levelClass(group) {
    const level = group.service_level_percent;
    const target = group.service_level_target_percent;
    if (level === null || level === undefined || target === null || target === undefined) {
      return "level-none";
    }
    return level >= target ? "level-met" : "level-missed";
  }

  function levelText(group) {
    const target = group.service_level_target_percent;
    const level = percent(group.service_level_percent);
    return target === null || target === undefined ? level : `${level} / ${percent(target)}`;
  }

  // ------------------------------------------------------------ the full board

  const FIGURES = [
    ["offered", "Offered", (v) => v],
    ["answered", "Answered", (v) => v],
    ["abandoned", "Abandoned", (v) => v],
    ["answered_within_threshold", "Answered in time", (v) => v],
    ["service_level_percent", "Service level", percent],
    ["longest_wait_s", "Longest wait", duration],
    ["average_wait_s", "Average wait", duration],
  ];

  function drawSituation(snapshot) {
    const body = document.getElementById("situation-rows");
    const rows = [];
    for (const [key, label, show] of FIGURES) {
      const row = element("tr");
      row.dataset.figure = key;
      row.append(element("th", "", label));
      for (const period of ["today", "last_15_min"]) {
        const figures = snapshot[period] || {};
        row.append(element("td", `figure ${period}`, show(figures[key])));
      }
      rows.push(row);
    }
    body.replaceChildren(...rows);
  }

  function drawQueues(snapshot) {
    const box = document.getElementById("queues");
    const longest = Math.max(1, ...snapshot.groups.map((g) => g.calls_waiting));
    const rows = snapshot.groups.map((group) => {
      const row = element("div", "queue");
      row.dataset.group = group.name;
      const name = element("div", "queue-name", group.name);
      if (group.description) {
        name.title = group.description;
      }
      const bar = element("div", "queue-bar");
      const fill = element("div", "queue-fill");
      // Width through the CSSOM: allowed by the console's CSP (no style attributes).
      fill.style.width = `${(100 * group.calls_waiting) / longest}%`;
      bar.append(fill);
      const count = element("div", "queue-count", group.calls_waiting);
      count.title = "calls waiting";
      const oldest = group.oldest_since ? ticking("div", "queue-oldest", group.oldest_since)
        : element("div", "queue-oldest", "");
      const agents = element("div", "queue-agents");
      agents.append(
        element("span", "count-ready", `${group.agents_ready} free`),
        element("span", "count-busy", `${group.agents_busy} busy`),
        element("span", "count-wrap", `${group.agents_wrap_up} wrap-up`),
        element("span", "count-paused", `${group.agents_paused} paused`),
      );
      const level = element("div", `queue-level ${levelClass(group)}`);
      const gauge = element("div", "level-gauge");
      const value = element("div", "level-value");
      value.style.width = `${Math.min(100, group.service_level_percent || 0)}%`;
      const target = element("div", "level-target");
      target.style.left = `${group.service_level_target_percent || 0}%`;
      gauge.append(value, target);
      level.append(element("span", "level-text", levelText(group)), gauge);
      level.title = `service level today (answered within ${group.service_level_threshold_s} s)`
        + " against the group's target";
      row.append(name, bar, count, oldest, agents, level);
      return row;
    });
    box.replaceChildren(...rows);
  }

  function drawWaiting(snapshot) {
    const body = document.getElementById("waiting-rows");
    const rows = [];
    const seen = new Set();
    for (const group of snapshot.groups) {
      for (const call of group.waiting) {
        if (seen.has(call.call_id)) {
          continue;   // a call waiting in two groups is listed once, under the first
        }
        seen.add(call.call_id);
        const row = element("tr", "call");
        row.dataset.call = call.call_id;
        row.append(element("td", "call-group", group.name),
          element("td", "call-position", call.position),
          element("td", "call-caller", call.caller || "withheld"),
          element("td", "call-digits", call.digits),
          ticking("td", "call-wait", call.since));
        rows.push(row);
      }
      // The snapshot lists the first calls of a long queue; say how many more wait.
      const more = group.waiting_not_listed || 0;
      if (more > 0) {
        const row = element("tr", "call-more");
        const cell = element("td", "", `${group.name}: ${more} more waiting`);
        cell.colSpan = 5;
        row.append(cell);
        rows.push(row);
      }
    }
    for (const call of snapshot.in_script || []) {
      // Not queued yet (greeting, menu, keying in digits): shown at once, so a new
      // call is on the board before its script queues it.
      const row = element("tr", "call call-in-script");
      row.dataset.call = call.call_id;
      row.append(element("td", "call-group", "IVR"), element("td", "call-position", ""),
        element("td", "call-caller", call.caller || "withheld"),
        element("td", "call-digits", call.digits),
        ticking("td", "call-wait", call.since));
      rows.push(row);
    }
    body.replaceChildren(...rows);
    document.getElementById("waiting-empty").hidden = rows.length > 0;
  }

  function drawAgents(snapshot) {
    const box = document.getElementById("agents");
    const tiles = snapshot.agents.map((agent) => {
      const tile = element("div", `agent state-${agent.state}`);
      tile.dataset.agent = agent.id;
      tile.append(element("div", "agent-name", agent.name || agent.id));
      let word = STATE_WORDS[agent.state] || agent.state;
      const state = element("div", "agent-state", word);
      tile.append(state);
      if (agent.state === "paused" && agent.pause_reason) {
        tile.append(element("div", "agent-reason", agent.pause_reason));
      }
      if (agent.state !== "logged_out") {
        tile.append(ticking("div", "agent-time", agent.since));
      }
      tile.title = `${agent.id}: ${word}`
        + (Object.keys(agent.groups).length ? ` (${Object.keys(agent.groups).join(", ")})` : "");
      return tile;
    });
    box.replaceChildren(...tiles);
  }

  // ------------------------------------------------------------ the compact view

  function drawCompact(snapshot) {
    const body = document.getElementById("compact-rows");
    const rows = snapshot.groups.map((group) => {
      const row = element("tr", "compact-group");
      row.dataset.group = group.name;
      const oldest = group.oldest_since ? ticking("td", "compact-oldest", group.oldest_since)
        : element("td", "compact-oldest", "");
      row.append(element("th", "compact-name", group.name),
        element("td", "compact-waiting", group.calls_waiting),
        oldest,
        element("td", "compact-agents",
          `${group.agents_ready}/${group.agents_busy + group.agents_wrap_up}/${group.agents_paused}`),
        element("td", `compact-level ${levelClass(group)}`, levelText(group)));
      return row;
    });
    body.replaceChildren(...rows);
  }

  // ------------------------------------------------------------ updates

  function draw(snapshot) {
    last = snapshot;
    offset = Date.now() / 1000 - snapshot.at;
    if (compact) {
      drawCompact(snapshot);
    } else {
      drawSituation(snapshot);
      drawQueues(snapshot);
      drawWaiting(snapshot);
      drawAgents(snapshot);
    }
    board.dataset.updated = String(snapshot.at);
    tick();
  }

  let source = null;

  function connected(up) {
    const link = document.getElementById("board-link");
    if (!link) {
      return;
    }
    // EventSource reconnects by itself after a dropped connection; it gives up only
    // when the server refuses the stream: the login session has ended.
    const ended = !up && source && source.readyState === EventSource.CLOSED;
    link.textContent = up ? "live" : ended ? "logged out: reload to log in" : "reconnecting…";
    link.className = up ? "board-link link-up" : "board-link link-down";
    board.classList.toggle("stale", !up);
  }

  source = qs.stream(board.dataset.events, (snapshot) => {
    connected(true);
    draw(snapshot);
  }, connected);
  setInterval(tick, 1000);
  window.qsBoard = { latest: () => last };
})();
