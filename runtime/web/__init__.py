"""The browser console of ``qscript serve``: wallboard, agent client, administration.

Server-rendered pages (Jinja2) with live updates pushed over server-sent
events; every change a page makes is an ordinary POST with a CSRF token that
calls the same LiveRuntime methods as the control API. The pieces:

* :mod:`runtime.web.console` — the ``/console/`` sub-application: mounting,
  middlewares (IP lists, sessions, roles, CSRF, errors, security headers), and
  the :class:`~runtime.web.console.Console` that page modules register on;
* :mod:`runtime.web.security` — passwords (argon2id), login sessions, CSRF
  tokens, roles;
* :mod:`runtime.web.users` — the console's users, read from the database and
  kept in memory for logins during a database outage;
* :mod:`runtime.web.render` — the Jinja2 environment (autoescaped);
* :mod:`runtime.web.sse` — a server-sent event stream;
* :mod:`runtime.web.auth_pages` — login, logout and the start page;
* page modules (one per part of the console), each with ``add_routes(console)``.
"""
