// The agent client (runtime/web/agent_client.py): the page follows the agent's own view
// over /console/agent/events and sends the agent's actions as JSON POSTs.
// Everything from the server is set as text (textContent), never as HTML.
"use strict";
(() => {
  const root = document.getElementById("agent-client");
  if (!root) return;
  const query = root.dataset.query || "";
  const url = (path) => `/console/agent/${path}${query}`;
  const $ = (id) => document.getElementById(id);
  const flash = $("agent-flash");
  const STATE_NAMES = {ready: "Ready", ringing: "Ringing", busy: "On a call", wrap_up: "Wrap-up",
                       paused: "Paused", logged_out: "Logged out"};
  let view = JSON.parse(root.dataset.view);
  let receivedAt = performance.now();

  // Seconds as 45 s, 2 min 05 s.
  function span(seconds) {
    const whole = Math.max(0, Math.round(seconds));
    const minutes = Math.floor(whole / 60);
    return minutes ? `${minutes} min ${String(whole % 60).padStart(2, "0")} s` : `${whole} s`;
  }
  const elapsed = () => (performance.now() - receivedAt) / 1000;

  function renderState() {
    const badge = $("agent-state");
    badge.className = `badge state-${view.state}`;
    badge.textContent = STATE_NAMES[view.state] + (view.state === "paused" && view.pause_reason
      ? `: ${view.pause_reason}` : "");
    $("agent-note").textContent = note();
    const loggedIn = view.state !== "logged_out";
    const onCall = view.state === "ringing" || view.state === "busy";
    $("btn-login").hidden = loggedIn;
    $("btn-logout").hidden = !loggedIn;
    $("btn-ready").disabled = !loggedIn || view.state === "ready" || onCall;
    $("btn-pause").disabled = !loggedIn || (view.state === "paused" && !view.pending_pause
      && view.pause_reason === $("pause-reason").value);
    $("btn-groups").hidden = !loggedIn;
  }

  // What comes next, said in words: the wrap-up's end (the ACD makes the agent ready by
  // itself), or the pause asked for during the call.
  function note() {
    if (view.state === "wrap_up" && view.ready_in_s !== null) {
      const left = view.ready_in_s - elapsed();
      return view.pending_pause ? `paused (${view.pending_pause}) in ${span(left)}`
        : `ready again automatically in ${span(left)}`;
    }
    if (view.pending_pause) return `pause (${view.pending_pause}) after this call`;
    return "";
  }

  function renderGroups() {
    if (view.state === "logged_out") return;  // the agent is choosing: leave the boxes
    for (const box of $("groups").querySelectorAll("input[name=group]")) {
      if (document.activeElement !== box) box.checked = box.value in view.groups;
    }
  }

  function renderCall() {
    const call = view.call;
    $("screen-pop").hidden = !call;
    if (!call) return;
    $("pop-state").textContent = call.state === "ringing" ? "Ringing" : "Connected";
    $("pop-caller").textContent = call.caller || "(no number)";
    $("pop-digits").textContent = call.digits || "—";
    $("pop-language").textContent = call.language || "—";
    $("pop-group").textContent = call.group || "—";
    $("pop-dialled").textContent = call.dialled || "—";
    renderWaited();
    renderFields(call);
    const crm = $("pop-crm");
    crm.hidden = !call.crm_url;
    if (call.crm_url) crm.href = call.crm_url;
    $("call-actions").hidden = call.state !== "connected";
    const requeue = $("requeue-group");
    if (call.group && document.activeElement !== requeue) requeue.value = call.group;
    renderTransferAgents();
  }

  function renderWaited() {
    const call = view.call;
    if (!call) return;
    const ticking = call.state === "ringing";  // once answered, the wait is over
    $("pop-waited").textContent = span(call.waited_s + (ticking ? elapsed() : 0));
  }

  // What the script's lookups found and what it saved, one row a field.
  function renderFields(call) {
    const rows = [];
    for (const [lookup, found] of Object.entries(call.lookups || {})) {
      if (!found) { rows.push([lookup, "not found"]); continue; }
      for (const [field, value] of Object.entries(found)) rows.push([`${lookup}.${field}`, value]);
    }
    for (const [key, value] of Object.entries(call.saved || {})) rows.push([key, value]);
    const table = $("pop-fields");
    table.hidden = rows.length === 0;
    const body = table.querySelector("tbody");
    body.replaceChildren(...rows.map(([name, value]) => row([name, format(value)])));
  }

  const format = (value) => value === null || value === undefined ? "" :
    typeof value === "object" ? JSON.stringify(value) : String(value);

  function row(cells, extra) {
    const tr = document.createElement("tr");
    for (const [index, text] of cells.entries()) {
      const td = document.createElement("td");
      td.textContent = text;
      if (index === 1 && extra && extra.number) td.className = "number";
      tr.appendChild(td);
    }
    return tr;
  }

  function renderTransferAgents() {
    const select = $("transfer-agent");
    if (document.activeElement === select) return;
    const chosen = select.value;
    select.replaceChildren(...view.transfer_agents.map((agent) => {
      const option = document.createElement("option");
      option.value = agent.id;
      option.textContent = `${agent.name} (${STATE_NAMES[agent.state].toLowerCase()})`;
      return option;
    }));
    if (chosen) select.value = chosen;
  }

  function renderCallbacks() {
    const items = view.callbacks || [];
    $("callbacks").hidden = items.length === 0;
    $("callbacks-none").hidden = items.length > 0;
    const body = $("callbacks").querySelector("tbody");
    body.replaceChildren(...items.map((item) => {
      const tr = row([item.number, span(item.waited_s + elapsed()), item.groups.join(", ")],
                     {number: true});
      tr.dataset.callId = item.call_id;
      const td = document.createElement("td");
      const take = document.createElement("button");
      take.type = "button";
      take.textContent = "Call back now";
      take.dataset.testid = "take-callback";
      take.addEventListener("click", () => act("take-callback", {call_id: item.call_id},
                                               `calling ${item.number} back`));
      td.appendChild(take);
      tr.appendChild(td);
      return tr;
    }));
  }

  function render() {
    renderState();
    renderGroups();
    renderCall();
    renderCallbacks();
  }

  // The clocks go on between views: the wait of a ringing call, the wrap-up's count-down.
  function tick() {
    $("agent-note").textContent = note();
    renderWaited();
    for (const tr of $("callbacks").querySelectorAll("tbody tr")) {
      const item = (view.callbacks || []).find((one) => one.call_id === tr.dataset.callId);
      if (item) tr.children[1].textContent = span(item.waited_s + elapsed());
    }
  }

  async function act(path, data, done) {
    const answer = await qs.post(url(path), data);
    if (answer.ok) {
      qs.say(flash, answer.status === 202 ? answer.data.message : done, answer.status === 202);
    } else {
      qs.say(flash, answer.data.error || `the console answered ${answer.status}`, true);
    }
    return answer.ok;
  }

  const checkedGroups = () => [...$("groups").querySelectorAll("input[name=group]:checked")]
    .map((box) => box.value);

  $("btn-login").addEventListener("click", () =>
    act("login", {groups: checkedGroups()}, "logged in to the queues"));
  $("btn-logout").addEventListener("click", () => act("logout", {}, "logged out of the queues"));
  $("btn-ready").addEventListener("click", () => act("ready", {}, "ready"));
  $("btn-pause").addEventListener("click", () => {
    const reason = $("pause-reason").value;
    act("pause", {reason}, view.state === "busy" || view.state === "ringing"
      || view.state === "wrap_up" ? `paused (${reason}) after this call` : `paused (${reason})`);
  });
  $("pause-reason").addEventListener("change", renderState);
  $("btn-groups").addEventListener("click", () =>
    act("groups", {groups: checkedGroups()}, `taking calls from ${checkedGroups().join(", ")}`));

  $("transfer-kind").addEventListener("change", () => {
    const kind = $("transfer-kind").value;
    $("transfer-number").hidden = kind !== "number";
    $("transfer-agent").hidden = kind !== "agent";
    $("transfer-group").hidden = kind !== "group";
  });
  $("btn-transfer").addEventListener("click", async () => {
    const kind = $("transfer-kind").value;
    const target = kind === "number" ? $("transfer-number").value.trim()
      : $(`transfer-${kind}`).value;
    if (!target) { qs.say(flash, `choose ${kind === "number" ? "a number" : `an ${kind}`} first`, true); return; }
    if (await act("transfer", {[kind]: target}, `transferred to ${target}`)) {
      $("transfer-number").value = "";
    }
  });
  $("btn-requeue").addEventListener("click", () => {
    const group = $("requeue-group").value;
    act("requeue", {group}, `back in the queue of ${group}, keeping its place`);
  });

  render();
  setInterval(tick, 500);
  const source = qs.stream(url("events"), (data) => {
    if (data.error) {
      qs.say(flash, data.error, true);
      source.close();
      return;
    }
    view = data;
    receivedAt = performance.now();
    render();
  }, (up) => { $("agent-offline").hidden = up; });
})();
