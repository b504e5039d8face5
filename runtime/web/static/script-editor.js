// The script editor of the console (admin/scripts.html): line numbers beside a plain
// <textarea>, the compiler's diagnostics as you type (debounced: one check per pause,
// not one per key), deploy. No editor library: the console loads nothing from outside.
(function () {
  "use strict";
  var editor = document.getElementById("script-source");
  if (!editor) { return; }
  var gutter = document.getElementById("script-lines");
  var list = document.getElementById("script-diagnostics");
  var summary = document.getElementById("script-summary");
  var deployButton = document.getElementById("script-deploy");
  var deployResult = document.getElementById("script-deploy-result");
  var checkUrl = editor.getAttribute("data-check-url");
  var deployUrl = editor.getAttribute("data-deploy-url");
  var DEBOUNCE_MS = 250;
  var timer = null;
  var sent = 0;         // the number of the latest check sent: older answers are dropped
  var marked = {};      // line -> severity, for the gutter

  function post(url, data) {
    // qs.post (console.js) sends the CSRF header and JSON; it resolves to
    // {ok, status, data} and never rejects: errors come back as data.error.
    return qs.post(url, data).then(function (answer) {
      if (answer.status === 0 || (!answer.ok && answer.data && answer.data.error &&
                                  !answer.data.diagnostics)) {
        return Promise.reject(answer.data.error || ("HTTP " + answer.status));
      }
      return answer.data;
    });
  }

  function lineCount() { return editor.value.split("\n").length; }

  function drawGutter() {
    var count = lineCount();
    var parts = [];
    for (var n = 1; n <= count; n++) {
      var severity = marked[n];
      parts.push('<span class="ln' + (severity ? " ln-" + severity : "") + '">' + n + "</span>");
    }
    gutter.innerHTML = parts.join("\n");
    gutter.scrollTop = editor.scrollTop;
  }

  function goTo(line, col) {
    var lines = editor.value.split("\n");
    var offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { offset += lines[i].length + 1; }
    offset += Math.max(0, (col || 1) - 1);
    editor.focus();
    editor.setSelectionRange(offset, offset + 1);
  }

  function show(payload) {
    marked = {};
    list.innerHTML = "";
    (payload.diagnostics || []).forEach(function (d) {
      if (marked[d.line] !== "error") { marked[d.line] = d.severity; }
      var item = document.createElement("li");
      item.className = "diagnostic diagnostic-" + d.severity;
      item.setAttribute("data-line", d.line);
      var where = document.createElement("a");
      where.href = "#";
      where.className = "diagnostic-where";
      where.textContent = d.line + ":" + d.col + " " + d.code;
      where.addEventListener("click", function (event) {
        event.preventDefault();
        goTo(d.line, d.col);
      });
      var message = document.createElement("span");
      message.className = "diagnostic-message";
      message.textContent = " " + d.severity + ": " + d.message;
      item.appendChild(where);
      item.appendChild(message);
      if (d.hint) {
        var hint = document.createElement("div");
        hint.className = "diagnostic-hint";
        hint.textContent = "help: " + d.hint;
        item.appendChild(hint);
      }
      list.appendChild(item);
    });
    summary.textContent = payload.ok
      ? (payload.warnings ? "no errors, " + payload.warnings + " warning(s)" : "no problems")
      : payload.errors + " error(s), " + payload.warnings + " warning(s)";
    summary.className = payload.ok ? "summary-ok" : "summary-errors";
    deployButton.disabled = !payload.ok;
    drawGutter();
  }

  function check() {
    var number = ++sent;
    summary.textContent = "checking…";
    post(checkUrl, { source: editor.value }).then(function (payload) {
      if (number === sent) { show(payload); }
    }, function (error) {
      if (number === sent) { summary.textContent = "cannot check: " + error; }
    });
  }

  editor.addEventListener("input", function () {
    drawGutter();
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(check, DEBOUNCE_MS);
  });
  editor.addEventListener("scroll", function () { gutter.scrollTop = editor.scrollTop; });
  editor.addEventListener("keydown", function (event) {
    if (event.key === "Tab" && !event.shiftKey) {   // indent, as scripts are indented
      event.preventDefault();
      var start = editor.selectionStart;
      editor.setRangeText("    ", start, editor.selectionEnd, "end");
      editor.dispatchEvent(new Event("input"));
    }
  });

  deployButton.addEventListener("click", function () {
    var comment = document.getElementById("script-comment");
    deployButton.disabled = true;
    deployResult.textContent = "deploying…";
    post(deployUrl, { source: editor.value, comment: comment ? comment.value : "" })
      .then(function (answer) {
        if (answer.ok) {
          deployResult.textContent = "version " + answer.version + " deployed and active";
          deployResult.className = "summary-ok";
          window.location.reload();
        } else {
          deployResult.textContent = "not deployed: " + (answer.error ||
            (answer.diagnostics || []).map(function (d) { return d.message; }).join("; "));
          deployResult.className = "summary-errors";
          deployButton.disabled = false;
        }
      }, function (error) {
        deployResult.textContent = "not deployed: " + error;
        deployResult.className = "summary-errors";
        deployButton.disabled = false;
      });
  });

  drawGutter();
  check();
})();
