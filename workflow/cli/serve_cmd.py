"""`casework serve`: the scheduler (sweep and delivery) and the web app with the API, in the foreground.

Ctrl-C or SIGTERM stops it cleanly: the web server stops taking requests, a
running sweep stops between two steps and commits those it has done (each
step is a savepoint of its batch, so nothing is half done) and the scheduler
waits for its jobs to end. A second Ctrl-C stops at once; even then nothing is
half done: the batch in hand is rolled back whole and left for later.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import threading
from typing import Any, Optional

import typer

from workflow.cli import refusal_line, summary
from workflow.cli._common import engine
from workflow.errors import SetupError
from workflow.logs import configure as configure_logs, event

log = logging.getLogger("casework.serve")


def _web_app(eng, every_minutes: Optional[float]) -> Any:
    """The ASGI app, or None (logged) while the web app cannot be imported."""
    try:
        from workflow.web.asgi import create_app
    except ImportError as err:
        log.warning("the web app is not available (%s); serving the scheduler only", err)
        return None
    seconds = every_minutes * 60 if every_minutes is not None else None
    return create_app(eng, scheduler_every=seconds)


def web_server_options(environ=os.environ) -> dict[str, Any]:
    """uvicorn's settings that touch security.

    X-Forwarded-For (the address recorded for a sign-in) is believed only from
    the proxies named in CASEWORK_TRUSTED_PROXIES (comma-separated addresses);
    uvicorn's own default believes it from loopback, so anything on the server
    could give any address. No `Server` header: it names the software to attack.
    """
    proxies = [
        p.strip() for p in environ.get("CASEWORK_TRUSTED_PROXIES", "").split(",") if p.strip()
    ]
    return {
        "server_header": False,
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
    }


def _install_handlers(stopping: threading.Event) -> None:
    """SIGINT and SIGTERM start a clean stop; a second one stops at once.

    uvicorn takes these signals while it serves, then restores these handlers
    and raises the signal again once it has stopped, so it lands here too.
    """

    def handler(signum, _frame):
        if stopping.is_set():
            log.warning("%s received again: stopping now", signal.Signals(signum).name)
            os._exit(130)
        log.info("%s received: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def register(app: typer.Typer) -> None:
    @app.command("serve", short_help=summary("serve"))
    def serve(
        every: float = typer.Option(
            5.0, "--every", min=0.001, metavar="MINUTES", help="Minutes between sweeps (default 5)."
        ),
        host: str = typer.Option("127.0.0.1", "--host", metavar="HOST"),
        port: int = typer.Option(8000, "--port", min=1, max=65535, metavar="PORT"),
        no_scheduler: bool = typer.Option(
            False, "--no-scheduler", help="Serve the web app only (a web node)."
        ),
        no_web: bool = typer.Option(
            False, "--no-web", help="Run the scheduler only (a worker node)."
        ),
    ) -> None:
        """The scheduler, web app and API in the foreground (acts as `system`)."""
        if no_scheduler and no_web:
            raise typer.BadParameter("--no-scheduler and --no-web leave nothing to serve")
        # One line an event at INFO (workflow.logs: CASEWORK_LOG_FORMAT, CASEWORK_LOG_LEVEL).
        configure_logs(default_level="INFO")
        try:
            _serve(every, host, port, no_scheduler, no_web)
        except Exception as err:
            # A refusal to start (settings, the database, the address) is a log line
            # like any other, so that a log shipper reading JSON gets one object.
            line = refusal_line(err)
            if line is None:
                raise
            event(log, "serve.refused", line, level=logging.ERROR)
            raise typer.Exit(1) from None


def _listen(host: str, port: int) -> list[socket.socket]:
    """The listening sockets, one for each address `host` names (as asyncio binds them),
    bound here so that an address in use or not allowed is a one-line refusal (uvicorn
    logs it and exits 3, after `serving on` was said)."""
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as err:
        raise SetupError(f"casework serve cannot listen on {host}:{port}: {_why(err)}.") from None
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(2048)
            sock.set_inheritable(True)
    except OSError as err:
        for sock in bound:
            sock.close()
        taken = " (is another casework serve running?)" if err.errno == errno.EADDRINUSE else ""
        raise SetupError(
            f"casework serve cannot listen on {host}:{port}: {_why(err)}{taken}."
        ) from None
    return bound


def _why(err: OSError) -> str:
    text = err.strerror or str(err)
    return text[:1].lower() + text[1:]


def _serve(every: float, host: str, port: int, no_scheduler: bool, no_web: bool) -> None:
    from workflow.runtime.scheduler import build_scheduler
    from workflow.runtime.status import record_interval
    from workflow.runtime.sweep import default_owner

    eng = engine()
    owner, stop = default_owner(), threading.Event()
    # The mail settings and the address first: a refusal comes before anything starts.
    scheduler = (
        None if no_scheduler else build_scheduler(eng, every_minutes=every, owner=owner, stop=stop)
    )
    socks = [] if no_web else _listen(host, port)
    _install_handlers(stop)
    try:
        if scheduler is not None:
            from workflow.runtime.sealing import add_seal_jobs

            if add_seal_jobs(scheduler, eng):
                log.info("sealing daily at 02:00 Europe/London and after every 10,000 new rows")
            record_interval(eng, every, owner)
            scheduler.start()
            log.info(
                "scheduler started as %s: sweep every %g min, delivery every minute", owner, every
            )
        web = _web_app(eng, every if scheduler else None) if socks else None
        if web is None:  # a worker node, or the web app cannot be imported: listen to nothing
            for sock in socks:
                sock.close()
        else:
            import uvicorn

            # uvicorn's lines go through ours (log_config=None); its access log is
            # off: it names client addresses, and each request is logged without them.
            server = uvicorn.Server(
                uvicorn.Config(
                    web,
                    host=host,
                    port=port,
                    log_config=None,
                    access_log=False,
                    lifespan="auto",
                    **web_server_options(),
                )
            )
            log.info("serving on http://%s:%d", host, port)
            server.run(sockets=socks)  # returns after SIGINT/SIGTERM
        while not stop.wait(1.0):  # a worker node, or the web app unavailable
            pass
    finally:
        for sock in socks:
            sock.close()
        stop.set()
        if scheduler is not None:
            log.info("stopping the scheduler (a running sweep stops between two steps)")
            scheduler.shutdown(wait=True)
        eng.dispose()
        log.info("stopped")
