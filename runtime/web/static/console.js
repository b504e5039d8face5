// The console's shared helpers: CSRF-carrying requests and live streams.
// No framework: pages are server-rendered; the page scripts update them from the streams.
"use strict";
const qs = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // POST (or another method) a JSON body; resolves to {ok, status, data}; never throws on HTTP errors.
  async function post(url, data, method = "POST") {
    let response;
    try {
      response = await fetch(url, {
        method, credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf()},
        body: data === undefined ? undefined : JSON.stringify(data),
      });
    } catch (error) {
      return {ok: false, status: 0, data: {error: `the console cannot be reached (${error.message})`}};
    }
    let body = {};
    try { body = await response.json(); } catch (_) { body = {}; }
    return {ok: response.ok, status: response.status, data: body};
  }

  // Follow a server-sent event stream of JSON; EventSource reconnects by itself.
  // onState(true/false) tells the page whether it is connected (to show a stale marker).
  function stream(url, onData, onState) {
    const source = new EventSource(url, {withCredentials: true});
    source.onmessage = (event) => { onData(JSON.parse(event.data)); };
    source.onopen = () => onState && onState(true);
    source.onerror = () => onState && onState(false);
    return source;
  }

  // Show a message in an element (class ok or error), e.g. after a POST.
  function say(element, message, isError) {
    if (!element) return;
    element.textContent = message;
    element.className = "flash " + (isError ? "error" : "ok");
    element.hidden = !message;
  }

  return {post, stream, say, csrf};
})();
