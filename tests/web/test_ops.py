"""/healthz and /metrics for monitoring; a failure shows a plain page, never a traceback."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Route

from tests.web.site import Site, Visitor, bid_in_monitoring, settings, text_of
from workflow import clock
from workflow.runtime.backup_schedule import backup_job, last_backup
from workflow.services import tokens
from workflow.runtime.metrics import LAST_BACKUP
from workflow.storage.db import make_engine, reading
from workflow.runtime.sweep import sweep
from workflow.web import create_app


def test_a_web_only_node_is_healthy_when_its_database_answers(site):
    answer = site.visitor().get("/healthz")

    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "database": "ok",
        "sweep": "not checked: this process runs no scheduler",
    }


def test_a_scheduler_node_is_unhealthy_until_a_sweep_has_run(people, moment):
    site = Site(people, scheduler_every=60.0)

    before = site.visitor().get("/healthz")
    sweep(people.engine)
    after = site.visitor().get("/healthz")

    assert before.status_code == 503 and before.json()["sweep"]["problem"] == "no sweep has run yet"
    assert after.status_code == 200 and after.json()["sweep"]["ok"] is True


def test_a_sweep_older_than_three_intervals_makes_the_node_unhealthy(people, moment):
    site = Site(people, scheduler_every=60.0)
    sweep(people.engine)

    moment.advance(timedelta(seconds=179))
    fresh = site.visitor().get("/healthz")
    moment.advance(timedelta(seconds=2))
    stale = site.visitor().get("/healthz")

    assert fresh.status_code == 200
    assert stale.status_code == 503
    assert "more than three intervals (180 seconds)" in stale.json()["sweep"]["problem"]


def test_an_unreachable_database_makes_the_node_unhealthy(site, tmp_path):
    gone = make_engine(f"sqlite:///{tmp_path}/no/such/folder/casework.db")
    site.app.state.engine = gone

    answer = site.visitor().get("/healthz")

    assert answer.status_code == 503
    assert answer.json()["database"].startswith("unreachable")


def test_metrics_count_requests_by_route_and_show_the_outbox(site):
    ref = bid_in_monitoring(site.world)
    carol = site.as_("carol")
    carol.get(f"/cases/{ref}")
    carol.get("/cases/TCA-2013-0999")

    scraped = site.visitor().get("/metrics")

    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    body = scraped.text
    assert 'casework_http_requests_total{method="GET",route="/cases/{ref}",status="200"}' in body
    assert 'casework_http_requests_total{method="GET",route="/cases/{ref}",status="404"}' in body
    assert 'casework_http_request_seconds_bucket{le="0.005",route="/cases/{ref}"}' in body
    assert 'casework_outbox_depth{state="queued"} 2.0' in body  # the receipt, the offer
    assert "casework_sweeps_total" in body and "casework_messages_total" in body


def scraped_value(body: str, name: str) -> float:
    [sample] = [
        s
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == name
    ]
    return sample.value


def test_metrics_say_when_the_last_good_backup_was_though_this_process_did_not_take_it(
    site, tmp_path
):
    folder = tmp_path / "backups"
    folder.mkdir()
    backup_job(site.engine, folder, files_root=tmp_path / "files", seal_dir=None)()
    with reading(site.engine) as conn:
        taken = datetime.fromisoformat(last_backup(conn)["last_ok_at"])
    LAST_BACKUP.set(0)  # as in a serve started since, or a web node beside the worker that took it

    body = site.visitor().get("/metrics").text

    # 0 would read as "no backup since 1970" and set off the alert docs/deploy.md suggests.
    assert scraped_value(body, "casework_last_backup_timestamp_seconds") == taken.timestamp()


def test_a_request_s_log_line_names_who_asked_by_user_name_and_never_the_query(site, caplog):
    ref = bid_in_monitoring(site.world)
    with site.engine.begin() as conn:
        token, _ = tokens.create(conn, "carol", now=clock.now())

    with caplog.at_level("INFO", logger="casework.web"):
        site.as_("carol").get(f"/cases/{ref}?q=someone@example.org")
        site.visitor().get("/sign-in")
        site.visitor().get(f"/api/v1/cases/{ref}", headers={"Authorization": f"Bearer {token}"})

    lines = [r for r in caplog.records if getattr(r, "casework", {}).get("event") == "http.request"]
    said = {(r.getMessage(), r.casework.get("person")) for r in lines}
    assert (f"GET /cases/{ref} 200", "carol") in said  # signed in on the web
    assert ("GET /sign-in 200", None) in said  # nobody yet
    assert (f"GET /api/v1/cases/{ref} 200", "carol") in said  # by her API token
    assert not any("someone@example.org" in r.getMessage() for r in lines)


def test_metrics_name_a_mount_once_for_its_files_and_for_paths_it_does_not_have(site):
    visitor = site.visitor()
    visitor.get("/static/casework.css")
    visitor.get("/static/no-such-file.css")
    visitor.get("/api/v1/no-such-thing")

    body = site.visitor().get("/metrics").text

    assert 'route="/static",status="200"' in body
    assert 'route="/static",status="404"' in body
    assert 'route="/api/v1",status="401"' in body or 'route="/api/v1",status="404"' in body
    assert "/static/static" not in body and "/api/v1/api/v1" not in body


def test_an_unexpected_failure_shows_a_plain_page_and_no_traceback(people):
    app = create_app(people.engine, scheduler_every=None, settings=settings())

    def broken(request):
        raise RuntimeError("secret internals: password=hunter2")

    app.router.routes.append(Route("/broken", broken))

    answer = Visitor(app).get("/broken")

    assert answer.status_code == 500
    words = text_of(answer.text)
    assert "Sorry, there is a problem with the service" in words
    assert "hunter2" not in answer.text and "Traceback" not in answer.text


def test_a_wrong_method_is_answered_in_plain_english(site):
    answer = site.visitor().client.delete("/cases")

    assert answer.status_code == 405
    assert "This page does not take that kind of request" in text_of(answer.text)


def test_a_database_fault_is_a_plain_503_page_and_one_log_line_saying_what_happened(
    site, tmp_path, caplog
):
    carol = site.as_("carol")
    not_a_database = tmp_path / "casework.db"
    not_a_database.write_bytes(b"this is not a database file " * 200)
    site.app.state.engine = make_engine(f"sqlite:///{not_a_database}")

    with caplog.at_level("INFO", logger="casework"):
        answer = carol.get("/cases")

    assert answer.status_code == 503
    words = text_of(answer.text)
    assert "Sorry, the service is unavailable" in words and "nothing was changed" in words
    assert str(tmp_path) not in answer.text and "Traceback" not in answer.text
    [line] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert str(not_a_database) in line.getMessage() and line.exc_info is None  # names the file
