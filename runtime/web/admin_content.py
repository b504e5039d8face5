"""Console pages: prompts (upload, preview, activate), hot prompts, scripts, reports.

* ``/admin/prompts`` (admin): every catalogue prompt in every site language,
  what the site file plays and the uploaded recording (runtime/live/prompt_uploads.py),
  with a player; upload, activate, deactivate.
* ``/hot-prompts`` (supervisor and up): the site's hot prompts on/off.
* ``/admin/scripts`` and ``/admin/scripts/{name}`` (admin): the editor with the
  compiler's diagnostics as one types (runtime/live/script_check.py), deploy,
  versions, rollback (the LiveRuntime's own methods).
* ``/reports`` (supervisor and up): the reports of runtime/reports with their
  selection form, tables, chart and Excel/CSV downloads (runtime/reports/request.py).

Changes are audited. Forms post normally (a page that works without
JavaScript); the editor's check and deploy are JSON posts from
static/script-editor.js.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from runtime.live.prompt_audio import MAX_RECORDING_BYTES
from runtime.live.script_check import check_payload
from runtime.reports.model import ReportError
from runtime.reports.render import cell_text
from runtime.reports.request import (OUTCOMES, ReportForm, build_report, csv_text,
                                     download_name, has_chart, png_bytes, site_source,
                                     xlsx_bytes)
from runtime.site.values import NAME_RULE, is_valid_name
from runtime.web.console import PREFIX, Console, Role, current_user, json_body

PROMPTS = "/admin/prompts"
HOT_PROMPTS = "/hot-prompts"
SCRIPTS = "/admin/scripts"
REPORTS = "/reports"


def add_routes(console: Console) -> None:
    console.menu(PROMPTS, "Prompts", Role.ADMIN)
    console.menu(HOT_PROMPTS, "Hot prompts", Role.SUPERVISOR)
    console.menu(SCRIPTS, "Scripts", Role.ADMIN)
    console.menu(REPORTS, "Reports", Role.SUPERVISOR)
    console.get(PROMPTS, prompts_page, role=Role.ADMIN)
    console.post(PROMPTS + "/upload", upload_prompt, role=Role.ADMIN)
    console.post(PROMPTS + "/active", set_prompt_active, role=Role.ADMIN)
    console.get(PROMPTS + "/audio/{name}/{language}", prompt_audio, role=Role.ADMIN)
    console.get(HOT_PROMPTS, hot_prompts_page, role=Role.SUPERVISOR)
    console.post(HOT_PROMPTS + "/{name}", set_hot_prompt, role=Role.SUPERVISOR)
    console.get(SCRIPTS, scripts_page, role=Role.ADMIN)
    console.get(SCRIPTS + "/{name}", script_page, role=Role.ADMIN)
    console.post(SCRIPTS + "/{name}/check", check_script, role=Role.ADMIN)
    console.post(SCRIPTS + "/{name}/deploy", deploy_script, role=Role.ADMIN)
    console.post(SCRIPTS + "/{name}/rollback", rollback_script, role=Role.ADMIN)
    console.get(REPORTS, reports_page, role=Role.SUPERVISOR)
    console.get(REPORTS + "/chart.png", report_chart, role=Role.SUPERVISOR)
    console.get(REPORTS + "/download.xlsx", report_xlsx, role=Role.SUPERVISOR)
    console.get(REPORTS + "/download.csv", report_csv, role=Role.SUPERVISOR)


# ------------------------------------------------------------------ prompts


def _prompt_rows(runtime) -> list[dict[str, Any]]:
    """One row per catalogue prompt and site language, in catalogue order."""
    uploads = runtime.prompt_uploads
    catalogue = uploads.catalogue
    rows = []
    for name in (catalogue.prompts if catalogue is not None else {}):
        for language in uploads.languages():
            recording = uploads.recording(name, language)
            rows.append({"name": name, "language": language,
                         "site_media": uploads.site_media(name, language) or "",
                         "recording": recording,
                         "audio_url": _url(f"{PROMPTS}/audio/{name}/{language}"
                                           f"?v={recording.sha256[:12]}") if recording else None})
    return rows


async def prompts_page(request: web.Request, error: str | None = None,
                       status: int = 200) -> web.Response:
    console = Console.of(request)
    runtime = console.runtime
    return console.render(
        request, "admin/prompts.html", status=status, rows=_prompt_rows(runtime),
        languages=runtime.prompt_uploads.languages(),
        names=sorted(runtime.prompt_uploads.catalogue.names())
        if runtime.prompt_uploads.catalogue is not None else [],
        error=error, notice=request.query.get("notice"),
        max_megabytes=MAX_RECORDING_BYTES // (1024 * 1024))


async def upload_prompt(request: web.Request) -> web.StreamResponse:
    """A multipart form: ``name``, ``language``, ``recording`` (the WAV file)."""
    console = Console.of(request)
    fields, audio, filename = await _read_upload(request)
    name, language = fields.get("name", ""), fields.get("language", "")
    if audio is None:
        return await prompts_page(request, "choose a WAV file to upload", 400)
    try:
        recording, saving = await asyncio.to_thread(
            console.runtime.prompt_uploads.upload, name, language, audio, filename,
            current_user(request).user)
    except (ValueError, LookupError) as refused:
        return await prompts_page(request, f"{filename or 'the file'}: {refused}", 400)
    console.audit(request, "prompt.upload", f"{name}/{language}", sha256=recording.sha256[:12],
                  seconds=recording.duration, sample_rate=recording.sample_rate)
    _, answer = await console.runtime.saved(saving)
    notice = (f"{name} ({language}): recording uploaded, {recording.duration:g} s, playing from "
              "the next call" + ("" if answer.get("saved") else f"; {answer['message']}"))
    raise web.HTTPSeeOther(_url(PROMPTS) + "?" + urlencode({"notice": notice}))


async def _read_upload(request: web.Request) -> tuple[dict[str, str], bytes | None, str]:
    """The form's text fields and the file (the CSRF check has read the form already:
    aiohttp keeps it; the control server's body limit is above the recording's)."""
    form = await request.post()
    fields = {key: str(value)[:200] for key, value in form.items()
              if isinstance(value, str)}
    upload = form.get("recording")
    if not isinstance(upload, web.FileField):
        return fields, None, ""
    audio = upload.file.read(MAX_RECORDING_BYTES + 1)  # one byte over: check_wav says so
    return fields, audio or None, upload.filename or ""


async def set_prompt_active(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    form = await request.post()
    name, language = str(form.get("name", "")), str(form.get("language", ""))
    active = str(form.get("active", "")) == "true"
    try:
        saving = console.runtime.prompt_uploads.set_active(name, language, active)
    except LookupError as refused:
        return await prompts_page(request, str(refused), 400)
    console.audit(request, "prompt.activate" if active else "prompt.deactivate",
                  f"{name}/{language}")
    _, answer = await console.runtime.saved(saving)
    notice = (f"{name} ({language}): " + ("the uploaded recording plays" if active else
                                         "the site file's media plays")
              + ("" if answer.get("saved") else f"; {answer['message']}"))
    raise web.HTTPSeeOther(_url(PROMPTS) + "?" + urlencode({"notice": notice}))


async def prompt_audio(request: web.Request) -> web.StreamResponse:
    """The uploaded recording, for the page's <audio> player."""
    uploads = Console.of(request).runtime.prompt_uploads
    recording = uploads.recording(request.match_info["name"], request.match_info["language"])
    if recording is None:
        raise web.HTTPNotFound(text="no recording is uploaded for this prompt and language")
    path = uploads.path_of(recording)
    if not path.is_file():
        raise web.HTTPNotFound(text=f"the recording's file {path.name} is missing from "
                                    f"{uploads.directory}")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav",
                                           "Cache-Control": "private, max-age=3600"})


# ------------------------------------------------------------------ hot prompts


async def hot_prompts_page(request: web.Request) -> web.Response:
    console = Console.of(request)
    runtime = console.runtime
    states = dict(runtime.center.hot_prompts)
    rows = [{"name": name, "prompt": hot.prompt, "active": bool(states.get(name, hot.active))}
            for name, hot in getattr(runtime.site, "hot_prompts", {}).items()]
    return console.render(request, "admin/hot_prompts.html", rows=rows,
                          notice=request.query.get("notice"))


async def set_hot_prompt(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    name = _checked_name(request, "hot prompt name")
    form = await request.post()
    active = str(form.get("active", "")) == "true"
    saving = console.runtime.set_hot_prompt(name, active)
    console.audit(request, "hot_prompt.switch", name, active=active)
    _, answer = await console.runtime.saved(saving)
    notice = (f"{name} is {'on' if active else 'off'}"
              + ("" if answer.get("saved") else f"; {answer['message']}"))
    raise web.HTTPSeeOther(_url(HOT_PROMPTS) + "?" + urlencode({"notice": notice}))


# ------------------------------------------------------------------ scripts


def _script_names(runtime) -> list[str]:
    from pathlib import Path
    names = {Path(route.script).stem for route in getattr(runtime.site, "numbers", ())}
    return sorted(names | set(runtime.versions))


async def scripts_page(request: web.Request) -> web.Response:
    console = Console.of(request)
    runtime = console.runtime
    numbers: dict[str, list[str]] = {}
    from pathlib import Path
    for route in getattr(runtime.site, "numbers", ()):
        numbers.setdefault(Path(route.script).stem, []).append(route.number)
    rows = [{"name": name, "version": runtime.versions.get(name),
             "numbers": ", ".join(numbers.get(name, [])) or "(none)"}
            for name in _script_names(runtime)]
    return console.render(request, "admin/scripts.html", rows=rows)


async def script_page(request: web.Request) -> web.Response:
    console = Console.of(request)
    runtime = console.runtime
    name = _checked_name(request, "script name")
    versions = await runtime.stored_versions(name)
    if not versions and name not in _script_names(runtime):
        raise web.HTTPNotFound(text=f'no script "{name}"; the site routes numbers to '
                                    + ", ".join(_script_names(runtime)))
    active = next((v for v in versions if v.active), versions[-1] if versions else None)
    return console.render(
        request, "admin/script.html", name=name, source=active.source if active else "",
        active_version=active.version if active else None,
        versions=list(reversed(versions)), notice=request.query.get("notice"),
        error=request.query.get("error"),
        check_url=_url(f"{SCRIPTS}/{name}/check"),
        deploy_url=_url(f"{SCRIPTS}/{name}/deploy"))


async def _source_of(request: web.Request) -> str:
    data = await json_body(request)
    source = data.get("source") if isinstance(data, dict) else None
    if not isinstance(source, str):
        raise ValueError('the body must be a JSON object with "source": the script text')
    from qscript.source import MAX_SOURCE_BYTES
    if len(source.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
        raise ValueError(f"the script is larger than {MAX_SOURCE_BYTES:,} bytes")
    return source


async def check_script(request: web.Request) -> web.Response:
    console = Console.of(request)
    name = _checked_name(request, "script name")
    source = await _source_of(request)
    return web.json_response(await asyncio.to_thread(check_payload, source, name,
                                                     console.runtime.site))


async def deploy_script(request: web.Request) -> web.Response:
    console = Console.of(request)
    name = _checked_name(request, "script name")
    source = await _source_of(request)
    data = await json_body(request)
    comment = str(data.get("comment") or "")[:1000].replace("\n", " ")
    user = current_user(request).user
    result = await console.runtime.deploy_source(
        name, source, f"{name}.qs", comment=comment or f"deployed in the console by {user}")
    if result.ok:
        console.audit(request, "script.deploy", name, version=result.version)
    return web.json_response(result.__dict__, status=200 if result.ok else 422)


async def rollback_script(request: web.Request) -> web.StreamResponse:
    console = Console.of(request)
    name = _checked_name(request, "script name")
    form = await request.post()
    text = str(form.get("version", "")).strip()
    if not text.isdigit():
        raise ValueError(f'version: "{text}" is not a version number')
    result = await console.runtime.rollback(name, int(text))
    target = _url(f"{SCRIPTS}/{name}") + "?"
    if not result.ok:
        message = "; ".join(d.get("message", "") for d in result.diagnostics or [])
        raise web.HTTPSeeOther(target + urlencode({"error": f"not rolled back: {message}"}))
    console.audit(request, "script.rollback", name, version=result.version)
    raise web.HTTPSeeOther(target + urlencode({"notice": f"version {result.version} is active"}))


def _checked_name(request: web.Request, kind: str) -> str:
    name = request.match_info["name"]
    if not is_valid_name(name):
        raise ValueError(f'invalid {kind} "{name[:120]}": {NAME_RULE}')
    return name


# ------------------------------------------------------------------ reports


async def _report(request: web.Request):
    """(the form, the report or None, the error or None) for the query string."""
    console = Console.of(request)
    form = ReportForm.from_query(request.query)
    source = site_source(console.runtime.store.engine, console.runtime.site)
    try:
        return form, await asyncio.to_thread(build_report, source, form), None
    except ReportError as error:
        return form, None, str(error)


async def reports_page(request: web.Request) -> web.Response:
    from runtime.reports.kinds import KINDS
    console = Console.of(request)
    site = console.runtime.site
    form, report, error = await _report(request) if request.query else (ReportForm(), None, None)
    query = request.query_string
    tables = [] if report is None else [_table_view(table) for table in report.tables]
    return console.render(
        request, "reports/report.html", status=400 if error else 200, form=form, report=report, error=error, tables=tables,
        kinds=[(kind, description) for kind, (_, description) in KINDS.items()],
        groups=sorted(getattr(site, "groups", {})), outcomes=OUTCOMES,
        agents=[a.id for a in getattr(site, "agents", ())],
        chart_url=_url(f"{REPORTS}/chart.png?{query}")
        if report is not None and has_chart(report) else None,
        xlsx_url=_url(f"{REPORTS}/download.xlsx?{query}"),
        csv_url=_url(f"{REPORTS}/download.csv?{query}"))


def _table_view(table) -> dict[str, Any]:
    """A table's cells as the terminal shows them (1:05, 80.0%), for the page."""
    def cells(row):
        return [cell_text(value, column.kind) for value, column in zip(row, table.columns)]
    return {"name": table.name, "title": table.title,
            "columns": [{"title": c.title, "kind": c.kind} for c in table.columns],
            "rows": [cells(row) for row in table.rows],
            "total": cells(table.total) if table.total is not None else None}


async def report_chart(request: web.Request) -> web.Response:
    _, report, error = await _report(request)
    if report is None:
        raise web.HTTPBadRequest(text=error or "no report")
    try:
        image = await asyncio.to_thread(png_bytes, report)
    except ReportError as refused:
        raise web.HTTPNotFound(text=str(refused)) from None
    return web.Response(body=image, content_type="image/png")


async def report_xlsx(request: web.Request) -> web.Response:
    form, report, error = await _report(request)
    if report is None:
        raise web.HTTPBadRequest(text=error or "no report")
    workbook = await asyncio.to_thread(xlsx_bytes, report)
    return _download(workbook, download_name(report, form, "xlsx"),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


async def report_csv(request: web.Request) -> web.Response:
    form, report, error = await _report(request)
    if report is None:
        raise web.HTTPBadRequest(text=error or "no report")
    try:
        text = csv_text(report, request.query.get("table") or None)
    except ReportError as refused:
        raise web.HTTPBadRequest(text=str(refused)) from None
    return _download(text.encode("utf-8"), download_name(report, form, "csv"),
                     "text/csv; charset=utf-8")


def _url(path: str) -> str:
    """A console path as the browser addresses it (the console is mounted at /console)."""
    return PREFIX + path


def _download(body: bytes, filename: str, content_type: str) -> web.Response:
    return web.Response(body=body, headers={
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{filename}"'})
