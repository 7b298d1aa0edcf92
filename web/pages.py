"""The pages a park's staff use: my work, the caseload, a case, party work, pictures, audit,
accounts. Each handler reads what the page shows, or turns a form into a command message and
hands it to the dispatcher as the person logged in; the role table (commands/roles.py) decides
what each person sees and may do, on the server, for every request.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from commands import messages
from commands.bootstrap import Incubator
from commands.handlers import Actor
from commands.paging import PAGE_SIZE
from commands.requests import Requests
from commands.roles import ROLE_NAMES, Right, right_of
from lifecycle.errors import Conflict, NotFound, Refused, Said
from lifecycle.stages import PARTY_WORKFLOW, WORKFLOWS, Workflow
from web import forms
from web.render import render
from web.session import (
    COOKIE,
    LANG_COOKIE,
    LANGUAGES,
    LOGIN_CSRF,
    Viewer,
    csrf_ok,
    language,
    new_login_token,
    set_cookie,
    viewer,
)

PAGE = PAGE_SIZE  # cases per page of the caseload, as every list's (commands/paging.py)
SOON = 30  # days ahead that "my work" shows a deadline before any reminder


class Denied(Exception):
    """The person may not see or do this (403), or is not logged in (a redirect to log in)."""


def router(system: Incubator) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    pages = Pages(system)
    r.add_api_route("/login", pages.login_page, methods=["GET"])
    r.add_api_route("/login", pages.log_in, methods=["POST"])
    r.add_api_route("/logout", pages.log_out, methods=["POST"])
    r.add_api_route("/language", pages.choose_language, methods=["POST"])
    r.add_api_route("/", pages.my_work, methods=["GET"])
    r.add_api_route("/orgs", pages.caseload, methods=["GET"])
    r.add_api_route("/orgs/new", pages.new_case, methods=["GET"])
    r.add_api_route("/orgs", pages.apply, methods=["POST"])
    r.add_api_route("/orgs/{case_id}", pages.case, methods=["GET"])
    r.add_api_route("/orgs/{case_id}/history.csv", pages.history_csv, methods=["GET"])
    r.add_api_route("/orgs/{case_id}/dossier.json", pages.dossier, methods=["GET"])
    r.add_api_route("/orgs/{case_id}/do/{verb}", pages.case_command, methods=["POST"])
    r.add_api_route("/orgs/{case_id}/party/{verb}", pages.party_command, methods=["POST"])
    r.add_api_route("/orgs/{case_id}/privacy/{verb}", pages.privacy_command, methods=["POST"])
    r.add_api_route("/party", pages.party, methods=["GET"])
    r.add_api_route("/charts", pages.charts, methods=["GET"])
    r.add_api_route("/audit", pages.audit, methods=["GET"])
    r.add_api_route("/admin/users", pages.users, methods=["GET"])
    r.add_api_route("/admin/users/{verb}", pages.user_command, methods=["POST"])
    return r


class Pages:
    def __init__(self, system: Incubator) -> None:
        self.system = system

    # ---- who is looking -------------------------------------------------------------------

    def _viewer(self, request: Request) -> Viewer:
        return viewer(self.system, request)

    def _need(self, request: Request, right: Right | None = None) -> Viewer | Response:
        """The person, logged in and holding `right` (somewhere); else the login page or 403."""
        v = self._viewer(request)
        if v.session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        if right is not None and not v.may(right):
            return self._forbidden(v)
        return v

    def _names(self, v: Viewer) -> dict[str, dict[str, str]]:
        """The park's sites and fields, each key with the name a page shows (Chinese: the
        park's own name; English: the key), as forms offer them to choose from."""
        park, chinese = self.system.park, v.language == "zh_CN"
        return {
            "site": {key: site.name if chinese else key for key, site in park.sites.items()},
            "field": {key: name if chinese else key for key, name in park.fields.items()},
        }

    def _models(self) -> Any:
        """The read models, caught up first: a page shows what any process wrote, and a read
        model of a new version is rebuilt before it is read. When the log has not grown, only
        its end is read."""
        self.system.read_models.catch_up()
        return self.system.read_models

    def _forbidden(self, v: Viewer) -> Response:
        return render("error.html", v, {"status": 403, "problem": "forbidden"}, status=403)

    async def _posted(self, request: Request, v: Viewer) -> dict[str, Any] | Response:
        """The form, once its CSRF token is the session's; else 403 and nothing is read."""
        form = await request.form()
        values: dict[str, Any] = {}
        for key in form:
            many = form.getlist(key)
            values[key] = many if len(many) > 1 else many[0]
        if not csrf_ok(v.csrf(), values.get("csrf")):
            return render("error.html", v, {"status": 403, "problem": "csrf"}, status=403)
        return values

    # ---- logging in -----------------------------------------------------------------------

    def login_page(self, request: Request, next: str = "/") -> Response:
        v = self._viewer(request)
        if v.session is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return self._login_form(v, next, None)

    def _login_form(
        self, v: Viewer, next: str, problem: Said | None, status: int = 200
    ) -> Response:
        token = new_login_token()
        response = render(
            "login.html",
            v,
            {"next": _safe_next(next), "login_csrf": token, "problem": problem},
            status=status,
        )
        set_cookie(response, LOGIN_CSRF, token, max_age=3600)
        return response

    async def log_in(self, request: Request) -> Response:
        v = self._viewer(request)
        form = await request.form()
        next_page = str(form.get("next") or "/")
        if not csrf_ok(request.cookies.get(LOGIN_CSRF, ""), form.get("csrf")):
            return self._login_form(v, next_page, Refused("the login form expired; try again"), 403)
        try:
            session = self.system.accounts.log_in(
                str(form.get("username") or "").strip(), str(form.get("password") or "")
            )
        except Refused as refusal:
            return self._login_form(v, next_page, refusal, 401)
        response = RedirectResponse(_safe_next(next_page), status_code=303)
        max_age = int((session.expires_at - self.system.clock.now()).total_seconds())
        set_cookie(response, COOKIE, session.token, max_age=max(max_age, 60))
        response.delete_cookie(LOGIN_CSRF, path="/")
        return response

    async def log_out(self, request: Request) -> Response:
        v = self._need(request)
        if isinstance(v, Response):
            return v
        form = await self._posted(request, v)
        if isinstance(form, Response):
            return form
        assert v.session is not None
        self.system.accounts.log_out(v.session.token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def choose_language(self, request: Request) -> Response:
        """The language, kept with the account (or, before logging in, in a cookie)."""
        v = self._viewer(request)
        form = await request.form()
        chosen = str(form.get("language") or "")
        back = _safe_next(str(form.get("next") or "/"))
        if chosen not in LANGUAGES:
            return render("error.html", v, {"status": 422, "problem": "language"}, status=422)
        response = RedirectResponse(back, status_code=303)
        if v.session is not None:
            if not csrf_ok(v.csrf(), form.get("csrf")):
                return render("error.html", v, {"status": 403, "problem": "csrf"}, status=403)
            message = messages.ChooseLanguage(account=v.session.principal.name, language=chosen)
            self._dispatch(v, message, site=None, right=None)
        set_cookie(response, LANG_COOKIE, chosen, max_age=365 * 24 * 3600)
        return response

    # ---- my work --------------------------------------------------------------------------

    def my_work(self, request: Request) -> Response:
        v = self._need(request)
        if isinstance(v, Response):
            return v
        if not (v.may(Right.READ_ORG) or v.may(Right.READ_PARTY)):
            if v.may(Right.ACCOUNTS):
                return RedirectResponse("/admin/users", status_code=303)
            return self._forbidden(v)
        today = self.system.service.today()
        models = self._models()
        assert v.name is not None
        items = models.inbox(today, v.name)
        seen = {(i["case_id"], i["kind"]) for i in items}
        mine = {row["id"] for row in models.caseload(caseworker=v.name)}
        for row in models.due(until=today + timedelta(days=SOON)):
            if row["case_id"] in mine and (row["case_id"], row["kind"]) not in seen:
                days = (row["due_on"] - today).days
                status = "overdue" if days < 0 else "soon"
                items.append(row | {"status": status, "days": days, "organization": None})
        escalations = []
        if v.may(Right.READ_ESCALATIONS):
            escalations = [i for i in models.inbox(today) if i["status"] == "escalated"]
        names = {r["id"]: r["name"] for r in models.caseload()} if items or escalations else {}
        order = {"escalated": 0, "overdue": 1, "due": 2, "soon": 3}
        for item in items + escalations:
            item["organization"] = item.get("organization") or names.get(item["case_id"], "")
        items.sort(key=lambda i: (order.get(i["status"], 9), i["due_on"]))
        escalations.sort(key=lambda i: i["due_on"])
        return render("work.html", v, {"items": items, "escalations": escalations, "today": today})

    # ---- the caseload ---------------------------------------------------------------------

    def caseload(
        self,
        request: Request,
        stage: str = "",
        site: str = "",
        caseworker: str = "",
        field: str = "",
        track: str = "",
        q: str = "",
        page: str = "1",
    ) -> Response:
        v = self._need(request, Right.READ_ORG)
        if isinstance(v, Response):
            return v
        assert v.principal is not None
        # decimal digits only (str.isdigit takes ², which int() does not), and few of them
        number = int(page) if page.isdecimal() and len(page) < 6 and int(page) > 0 else 1
        readable = v.principal.sites_for(Right.READ_ORG)  # None: every site
        park = self.system.park
        choices = {"stage": _stages(), "site": park.sites, "field": park.fields, "track": WORKFLOWS}
        given = {"stage": stage, "site": site, "field": field, "track": track}
        # a value none of the lists offers (an old bookmark, an address made by hand) is said,
        # and left out of the filter
        unknown = {
            name: value for name, value in given.items() if value not in ("", *choices[name])
        }
        filters: dict[str, Any] = {n: "" if n in unknown else value for n, value in given.items()}
        filters |= {"caseworker": caseworker, "q": q[:100], "sites": readable}
        models = self._models()
        rows = models.caseload(**filters, limit=PAGE + 1, offset=PAGE * (number - 1))
        counts = models.stage_counts(**filters)
        shown = {k: val for k, val in filters.items() if k != "sites" and val}
        context = {
            "rows": rows[:PAGE],
            "more": len(rows) > PAGE,
            "page": number,
            "counts": counts,
            "total": sum(counts.values()),
            "filters": shown,
            "unknown": {name: value[:40] for name, value in unknown.items()},
            "query": lambda **change: urlencode({**shown, **change}),
            "stages": _stages(),
            "tracks": list(WORKFLOWS),
            "fields": park.fields,
            "site_names": self._names(v)["site"],
            "site_choices": [k for k in park.sites if readable is None or k in readable],
            "may_apply": v.may(Right.ORG_COMMAND),
        }
        partial = request.headers.get("hx-request") == "true"
        return render("caseload_rows.html" if partial else "caseload.html", v, context)

    def new_case(self, request: Request) -> Response:
        v = self._need(request, Right.ORG_COMMAND)
        if isinstance(v, Response):
            return v
        return self._apply_page(v, {}, None)

    def _apply_page(
        self, v: Viewer, values: dict[str, Any], problem: Said | None, status: int = 200
    ) -> Response:
        names = self._names(v)
        allowed = v.principal.sites_for(Right.ORG_COMMAND) if v.principal else frozenset()
        if allowed is not None:  # a caseworker applies at the sites her role is limited to
            names["site"] = {k: n for k, n in names["site"].items() if k in allowed}
        form = forms.form_for(messages.Apply, v.language == "zh_CN", choices=names)
        context = {"form": form, "values": values, "problem": problem}
        return render("apply.html", v, context, status=status)

    async def apply(self, request: Request) -> Response:
        v = self._need(request, Right.ORG_COMMAND)
        if isinstance(v, Response):
            return v
        values = await self._posted(request, v)
        if isinstance(values, Response):
            return values
        try:
            message = forms.message_from(messages.Apply, values, {})
            assert isinstance(message, messages.Apply)
            site = self.system.park.site_key(message.site)  # by key or name; refused if none
            case = self._dispatch(v, message, site=site, right=Right.ORG_COMMAND)
        except Said as problem:
            status = 409 if isinstance(problem, Conflict) else 422
            return self._apply_page(v, values, problem, status)
        except Denied:
            return self._forbidden(v)
        return RedirectResponse(f"/orgs/{case.id}", status_code=303)

    # ---- a case ---------------------------------------------------------------------------

    def _case(self, case_id: str) -> Any:
        try:
            return self.system.service.case(UUID(case_id))
        except (ValueError, NotFound):
            return None

    def case(self, request: Request, case_id: str, as_of: str = "") -> Response:
        v = self._need(request, Right.READ_ORG)
        if isinstance(v, Response):
            return v
        case = self._case(case_id)
        if case is None:
            return render("error.html", v, {"status": 404, "problem": "case"}, status=404)
        if not v.may(Right.READ_ORG, case.site):
            return self._forbidden(v)
        return self._case_page(v, case, as_of=as_of)

    def _case_page(
        self,
        v: Viewer,
        case: Any,
        *,
        as_of: str = "",
        problem: Said | None = None,
        failed: str | None = None,
        values: dict[str, Any] | None = None,
        between: list[dict[str, Any]] | None = None,
        status: int = 200,
    ) -> Response:
        from commands.as_of import case_as_of
        from commands.queries import case_view, history, party_view

        system = self.system
        today = system.service.today()
        track = system.service.party_track(case)
        view = case_view(case, system.park, today, track)
        party = party_view(track) if track is not None else None
        shown_as_of = None
        day_problem = None
        if as_of:
            try:
                day = date.fromisoformat(as_of)
                then, then_track = case_as_of(system.log, UUID(str(case.id)), day, None)
                if then is None:
                    day_problem = "not-yet"
                else:
                    view = case_view(then, system.park, day, then_track)
                    party = party_view(then_track) if then_track is not None else None
                    shown_as_of = day
            except ValueError:
                day_problem = "bad-date"
        timeline: list[dict[str, Any]] = []
        if v.may(Right.READ_HISTORY, case.site):
            reminders = [
                UUID(r["reminder_id"]) for r in system.read_models.reminders_of(str(case.id))
            ]
            timeline = history(system.log, UUID(str(case.id)), reminders)
            if track is not None:
                timeline += [e | {"party": True} for e in history(system.log, UUID(str(track.id)))]
                timeline.sort(key=lambda e: (e["recorded_at"], e["version"]))
            timeline.reverse()  # newest first
            self._read(v, "history (web)", case)
        chinese = v.language == "zh_CN"
        grouped: dict[str, list[forms.Form]] = {"org": [], "party": [], "privacy": []}
        names = self._names(v)
        if shown_as_of is None:
            for message in self._allowed(v, case, track):
                grouped[message.group].append(forms.form_for(message, chinese, choices=names))
        context = {
            "site_names": names["site"],
            "case": view,
            "party": party,
            "timeline": timeline,
            "case_forms": grouped["org"],
            "party_forms": grouped["party"],
            "privacy_forms": grouped["privacy"],
            "seen": _seen(case, track),
            "problem": problem,
            "failed": failed,
            "values": values or {},
            "between": between,
            "as_of": shown_as_of,
            "as_of_given": as_of,
            "day_problem": day_problem,
            "today": today,
            "diagram": _diagram(WORKFLOWS[case.track], view["stage"], v),
            "party_diagram": _diagram(PARTY_WORKFLOW, party["stage"], v) if party else None,
            "may_audit": v.may(Right.AUDIT),
            "may_history": v.may(Right.READ_HISTORY, case.site),
        }
        return render("case.html", v, context, status=status)

    def _allowed(self, v: Viewer, case: Any, track: Any) -> list[type[messages.Command]]:
        """The commands that apply now (by the stage, from the workflow's declaration) and that
        this person's role allows at the case's site."""
        return [
            message
            for message in messages.COMMANDS
            if message.group in ("org", "party", "privacy")
            and message is not messages.Apply
            and v.may(right_of(message), case.site)
            and _applies(message, case, track)
        ]

    async def case_command(self, request: Request, case_id: str, verb: str) -> Response:
        return await self._command(request, case_id, verb, "org")

    async def party_command(self, request: Request, case_id: str, verb: str) -> Response:
        return await self._command(request, case_id, verb, "party")

    async def privacy_command(self, request: Request, case_id: str, verb: str) -> Response:
        return await self._command(request, case_id, verb, "privacy")

    async def _command(self, request: Request, case_id: str, verb: str, group: str) -> Response:
        v = self._need(request)
        if isinstance(v, Response):
            return v
        values = await self._posted(request, v)
        if isinstance(values, Response):
            return values
        case = self._case(case_id)
        message = next((m for m in messages.COMMANDS if (m.group, m.verb) == (group, verb)), None)
        if case is None or message is None or message is messages.Apply:
            return render("error.html", v, {"status": 404, "problem": "command"}, status=404)
        if not v.may(right_of(message), case.site):
            return self._forbidden(v)
        return self._decide(v, case, message, values)

    def _decide(
        self, v: Viewer, case: Any, message: type[messages.Command], values: dict[str, Any]
    ) -> Response:
        """The command, unless the case moved on since the form was shown (then what was
        recorded in between) or a rule refuses it (then why, next to its field)."""
        track = self.system.service.party_track(case)
        seen = str(values.get("seen", ""))
        if seen != _seen(case, track):
            between = self._between(case, track, seen)
            return self._case_page(
                v, case, failed=message.verb, values=values, between=between, status=409
            )
        try:
            command = forms.message_from(message, values, {"org": UUID(str(case.id))})
            self._dispatch(v, command, site=case.site, right=right_of(message))
        except Said as problem:
            status = 409 if isinstance(problem, Conflict) else 422
            fresh = self.system.service.case(UUID(str(case.id)))
            return self._case_page(
                v, fresh, problem=problem, failed=message.verb, values=values, status=status
            )
        except Denied:
            return self._forbidden(v)
        return RedirectResponse(f"/orgs/{case.id}#timeline", status_code=303)

    def _between(self, case: Any, track: Any, seen: str) -> list[dict[str, Any]]:
        """What was recorded since the page the form came from was shown."""
        from commands.queries import history

        try:
            case_v, party_v = (int(x) for x in seen.split("."))
        except ValueError:
            case_v = party_v = 0
        found = [e for e in history(self.system.log, UUID(str(case.id))) if e["version"] > case_v]
        if track is not None:
            found += [
                e for e in history(self.system.log, UUID(str(track.id))) if e["version"] > party_v
            ]
        return sorted(found, key=lambda e: e["recorded_at"])

    def _dispatch(
        self, v: Viewer, message: messages.Command, *, site: str | None, right: Right | None
    ) -> Any:
        """The command, as the person logged in and in the role that allows it here."""
        assert v.principal is not None
        role = v.principal.role_for(right, site) if right is not None else None
        if right is not None and role is None:
            raise Denied
        result = self.system.dispatcher.handle(message, Actor(v.principal.name, role))
        self.system.read_models.catch_up()
        return result

    def _read(self, v: Viewer, what: str, case: Any) -> None:
        """A read of a case's record, itself recorded: who, when, what."""
        assert v.principal is not None
        role = v.principal.role_for(Right.READ_HISTORY, case.site) or v.principal.role_for(
            Right.AUDIT, case.site
        )
        Requests(self.system).record_read(v.principal.name, role, what, str(case.id))

    def history_csv(self, request: Request, case_id: str) -> Response:
        v = self._need(request, Right.READ_HISTORY)
        if isinstance(v, Response):
            return v
        case = self._case(case_id)
        if case is None:
            return render("error.html", v, {"status": 404, "problem": "case"}, status=404)
        if not v.may(Right.READ_HISTORY, case.site):
            return self._forbidden(v)
        from commands.exports import history_csv
        from commands.queries import history

        models = self._models()
        reminders = [UUID(r["reminder_id"]) for r in models.reminders_of(str(case.id))]
        text = history_csv(history(self.system.log, UUID(str(case.id)), reminders))
        self._read(v, "history.csv", case)
        name = f"{case.name}-history.csv"
        return Response(
            text.encode("utf-8-sig"),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )

    def dossier(self, request: Request, case_id: str) -> Response:
        v = self._need(request, Right.AUDIT)
        if isinstance(v, Response):
            return v
        case = self._case(case_id)
        if case is None:
            return render("error.html", v, {"status": 404, "problem": "case"}, status=404)
        from commands.audit import Audit

        data = Audit(self.system).dossier(UUID(str(case.id)))
        self._read(v, "dossier", case)
        name = f"{case.name}-dossier.json"
        return Response(
            json.dumps(data, ensure_ascii=False, indent=1, default=str).encode("utf-8"),
            media_type="application/json",
            headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )

    # ---- party work, pictures, audit --------------------------------------------------------

    def party(self, request: Request) -> Response:
        v = self._need(request, Right.READ_PARTY)
        if isinstance(v, Response):
            return v
        assert v.principal is not None
        sites = v.principal.sites_for(Right.READ_PARTY)
        models = self._models()
        coverage = models.party_coverage()
        branches = models.party_branches()
        if sites is not None:
            branches = [b for b in branches if b.get("site") in sites]
        context = {
            "coverage": coverage,
            "branches": branches,
            "unbranched": models.party_unbranched(sites=sites),
            "members": models.joint_members(),
            "sites": sites,
            "site_names": self._names(v)["site"],
        }
        return render("party.html", v, context)

    def charts(self, request: Request, year: str = "") -> Response:
        v = self._need(request, Right.READ_REPORTS)
        if isinstance(v, Response):
            return v
        from web import charts
        from web.i18n import lang

        spoken, models, park = lang(v.language), self._models(), self.system.park
        today = self.system.service.today()
        cohorts = models.cohort_funnel()
        years = [c["year"] for c in cohorts]
        chosen = int(year) if year.isdecimal() and len(year) < 6 and int(year) in years else None
        if chosen is None and years:
            chosen = years[-1]
        pictures = [charts.funnel(c, spoken) for c in cohorts if c["year"] == chosen]
        pictures += [
            charts.in_shell(models.in_shell(chosen), today, spoken, park),
            charts.occupancy(models.occupancy_by_site(), spoken, park),
            charts.party_coverage(models.party_coverage_by_site(), spoken, park),
        ]
        context = {"pictures": pictures, "year": chosen, "years": years}
        return render("charts.html", v, context)

    def audit(self, request: Request) -> Response:
        v = self._need(request, Right.AUDIT)
        if isinstance(v, Response):
            return v
        from commands.audit import Audit

        verdict = Audit(self.system).verify()
        reads = Requests(self.system).reads(limit=100)[::-1]
        return render("audit.html", v, {"verdict": verdict, "reads": reads})

    # ---- accounts ---------------------------------------------------------------------------

    def users(self, request: Request) -> Response:
        v = self._need(request, Right.ACCOUNTS)
        if isinstance(v, Response):
            return v
        return self._users_page(v)

    def _users_page(
        self,
        v: Viewer,
        problem: Said | None = None,
        failed: str | None = None,
        values: dict[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        chinese = v.language == "zh_CN"
        user_forms = [forms.form_for(m, chinese) for m in messages.COMMANDS if m.group == "user"]
        context = {
            "accounts": self.system.accounts.accounts(),
            "forms": [f for f in user_forms if f.message is not messages.ChooseLanguage],
            "roles": ROLE_NAMES,
            "problem": problem,
            "failed": failed,
            "values": values or {},
        }
        return render("users.html", v, context, status=status)

    async def user_command(self, request: Request, verb: str) -> Response:
        v = self._need(request, Right.ACCOUNTS)
        if isinstance(v, Response):
            return v
        values = await self._posted(request, v)
        if isinstance(values, Response):
            return values
        message = next((m for m in messages.COMMANDS if (m.group, m.verb) == ("user", verb)), None)
        if message is None:
            return render("error.html", v, {"status": 404, "problem": "command"}, status=404)
        try:
            command = forms.message_from(message, values, {})
            self._dispatch(v, command, site=None, right=Right.ACCOUNTS)
        except Said as problem:
            status = 409 if isinstance(problem, Conflict) else 422
            return self._users_page(v, problem, verb, values, status)
        except Denied:
            return self._forbidden(v)
        return RedirectResponse("/admin/users", status_code=303)


def _safe_next(target: str) -> str:
    """Only a path of this site: never a redirect elsewhere."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _applies(message: type[messages.Command], case: Any, track: Any) -> bool:
    """Whether the workflow's declaration allows `message` from the stage it acts on now."""
    if message is messages.StartPartyTrack:
        return track is None and case.stage in message.stages()
    if message.group == "privacy":
        return bool(case.holds_personal_data)
    if message.trigger is None:
        return True
    if message.group == "party":
        return track is not None and track.stage in PARTY_WORKFLOW.sources(message.trigger)
    return case.stage in WORKFLOWS[case.track].sources(message.trigger)  # this case's track


def _seen(case: Any, track: Any) -> str:
    return f"{case.version}.{track.version if track is not None else 0}"


def _stages() -> list[str]:
    found: list[str] = []
    for workflow in WORKFLOWS.values():
        found += [s for s in workflow.stages if s not in found]
    return found


def _diagram(workflow: Workflow, current: str | None, v: Viewer) -> Any:
    from web import diagram
    from web.i18n import lang

    return diagram.state_diagram(workflow, lang(v.language), current)


def failed(request: Request, system: Incubator, status: int) -> HTMLResponse:
    """Something went wrong on the server (500), or the database cannot be used (503)."""
    try:
        v = viewer(system, request)
    except Exception:  # the database may be what failed: a page all the same, logged out
        v = Viewer(None, language(request, None))
    problem = "unavailable" if status == 503 else "bug"
    return render("error.html", v, {"status": status, "problem": problem}, status=status)


def not_found(request: Request, system: Incubator, status: int = 404) -> HTMLResponse:
    """No such page (404), or not with that method (405)."""
    v = viewer(system, request)
    return render("error.html", v, {"status": status, "problem": "page"}, status=status)
