"""`make run`: every service as its own process, demo data loaded, URLs printed; Ctrl-C stops all.

    python -m deploy.launcher [--var DIR] [--no-demo]

Services are found under services/ (each package with a __main__.py). Settings come from the
environment as usual; `SERVICE__SETTING` sets one for that service only (`SEARCH__DATABASE_URL=...`),
and `SERVICE_PORT` its port. Each service defaults to its own SQLite file under var/.
A service that dies is started again (as a container platform would), so a crash is visible in
its log and the system carries on; each one's process id is kept in DIR/run/SERVICE.pid.
The end-to-end tests run the whole system through this launcher.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTS = {"catalogue": 8081, "search": 8082, "allocation": 8083, "notifier": 8084, "guidance": 8085, "console": 8086}
ORDER = ["catalogue", "search", "allocation", "notifier", "guidance", "console"]
NEEDS_EXAMPLE = ROOT / "docs" / "needs-analysis-example.csv"
MAX_RESTARTS = 5  # within RESTART_WINDOW_S; beyond that the service is broken, not unlucky
RESTART_WINDOW_S = 60.0


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def available_services() -> list[str]:
    return [s for s in ORDER if (ROOT / "services" / s / "__main__.py").exists()]


def port_of(service: str, environ: dict | None = None) -> int:
    environ = os.environ if environ is None else environ
    return int(environ.get(f"{service.upper()}_PORT", PORTS[service]))


def service_env(service: str, environ: dict | None = None) -> dict:
    """The environment one service runs with: the common one, its own `SERVICE__X` settings, its port,
    and where the other services are."""
    environ = dict(os.environ if environ is None else environ)
    prefix = f"{service.upper()}__"
    own = tuple(f"{s.upper()}__" for s in PORTS)
    env = {k: v for k, v in environ.items() if not k.startswith(own)}
    env.update({k[len(prefix):]: v for k, v in environ.items() if k.startswith(prefix)})
    env["HTTP_PORT"] = str(port_of(service, environ))
    env.setdefault("LOG_JSON", "true")
    for other in PORTS:
        env.setdefault(f"{other.upper()}_URL", f"http://127.0.0.1:{port_of(other, environ)}")
    return env


def wait_until_ready(url: str, proc: subprocess.Popen, timeout: float = 180, every: float = 0.3) -> None:
    """Poll a service's /readyz until it answers 200; RuntimeError if its process exits or time runs out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(every)
    raise RuntimeError(f"not ready after {timeout:.0f}s")


class Supervisor:
    """Starts the services, notices when one dies and starts it again, stops them all."""

    def __init__(self, services: list[str], var_dir: Path) -> None:
        self.services = services
        self.log_dir = var_dir / "log"
        self.run_dir = var_dir / "run"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, deque] = {s: deque() for s in services}

    def start(self, service: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{service}.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
        proc = subprocess.Popen([sys.executable, "-m", f"services.{service}"], cwd=ROOT, env=service_env(service),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()  # the child has its own copy
        self.procs[service] = proc
        (self.run_dir / f"{service}.pid").write_text(f"{proc.pid}\n")
        return proc

    def wait_ready(self, service: str, timeout: float = 180) -> None:
        try:
            wait_until_ready(f"http://127.0.0.1:{port_of(service)}/readyz", self.procs[service], timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{service} {exc}; see {self.log_dir}/{service}.log") from None

    def revive(self) -> None:
        """Start again whatever died; raises when one keeps dying."""
        for service, proc in list(self.procs.items()):
            if proc.poll() is None:
                continue
            recent = self.restarts.setdefault(service, deque())
            now = time.monotonic()
            while recent and now - recent[0] > RESTART_WINDOW_S:
                recent.popleft()
            if len(recent) >= MAX_RESTARTS:
                raise RuntimeError(f"{service} exited {MAX_RESTARTS} times within {RESTART_WINDOW_S:.0f}s "
                                   f"(last code {proc.returncode}); see {self.log_dir}/{service}.log")
            recent.append(now)
            print(f"{service} exited with code {proc.returncode}; starting it again", flush=True)
            self.start(service)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        end = time.monotonic() + 15
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in time; killing it")
                proc.kill()
        for name in self.procs:
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)


def cli(service: str, *args: str) -> str:
    """A service's own command line (tokens, accounts), with that service's settings; its last line."""
    out = subprocess.run([sys.executable, "-m", f"services.{service}", *args], cwd=ROOT, env=service_env(service),
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def load_demo_data(var_dir: Path) -> None:
    token = cli("catalogue", "token", "create", "--region", "--name", "demo-loader")
    feeds = var_dir / "demo-feeds"
    cli("catalogue", "demo-feeds", str(feeds))
    total = {"added": 0, "changed": 0, "unchanged": 0}
    for path in sorted(feeds.glob("*.json")):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port_of('catalogue')}/v1/feeds/{path.stem}?confirm_withdrawals=true",
            data=path.read_bytes(), method="PUT",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            report = json.load(r)
        for k in total:
            total[k] += report[k]
    print(f"demo data: 15 municipalities pushed ({total['added']} occurrences added, "
          f"{total['changed']} changed, {total['unchanged']} unchanged)")


def console_tokens(services: list[str]) -> None:
    """The console's token for each service it calls, made before it starts (its settings read them)."""
    for backend in ("catalogue", "allocation", "notifier", "guidance"):
        if backend in services:
            token = cli(backend, "token", "create", "--console", "--name", "console")
            os.environ[f"CONSOLE__{backend.upper()}_TOKEN"] = token


def load_demo_needs() -> None:
    """The region's needs analysis (an example file), so the console's charts and seat form start from it."""
    token = cli("allocation", "token", "create", "--coordinator", "--name", "demo-loader")
    req = urllib.request.Request(f"http://127.0.0.1:{port_of('allocation')}/v1/needs",
                                 data=NEEDS_EXAMPLE.read_bytes(), method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    with urllib.request.urlopen(req, timeout=30) as r:
        needs = json.load(r)
    print(f"demo data: needs analysis imported ({needs['source']}, {needs['year']})")


def staff_tokens(services: list[str]) -> list[str]:
    """Fresh tokens so a person can try the staff APIs of the running system."""
    lines = []
    if "allocation" in services:
        token = cli("allocation", "token", "create", "--coordinator", "--name", "demo-coordinator")
        lines.append(f"  regional coordinator token (allocation): {token}")
    if "notifier" in services:
        token = cli("notifier", "token", "create", "--operator", "--name", "demo-operator")
        lines.append(f"  operator token (notifier /v1/deliveries): {token}")
    if "guidance" in services:
        # A demo counsellor with a fresh password each start (printed; never a fixed default).
        password = cli("guidance", "counsellor", "create", "demo", "--name", "Demo Vägledare").split("password: ")[-1]
        lines.append(f"  chat page for learners: http://127.0.0.1:{port_of('guidance')}/")
        lines.append(f"  counsellor page: http://127.0.0.1:{port_of('guidance')}/counsellor   "
                     f"(user demo, password {password})")
    if "console" in services:
        # Demo staff with fresh passwords each start: the region, Umeå's coordinator, operations.
        lines.append(f"  staff console: http://127.0.0.1:{port_of('console')}/")
        for user, name, role, extra in (("region", "Demo Regionsamordnare", "regional", []),
                                        ("umea", "Demo Umeå", "municipality", ["--municipality", "2480"]),
                                        ("drift", "Demo Drift", "operator", [])):
            password = cli("console", "staff", "create", user, "--name", name, "--role", role,
                           *extra).split("password: ")[-1]
            lines.append(f"    {role:<12} user {user:<7} password {password}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.launcher", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--var", type=Path, default=ROOT / "var", help="logs, process ids, demo feeds, e-mails")
    parser.add_argument("--no-demo", action="store_true", help="start with an empty catalogue")
    args = parser.parse_args(argv)
    services = available_services()
    sup = Supervisor(services, args.var)
    stopping = False

    def on_signal(signum, _frame):  # noqa: ANN001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    mailcatcher = None
    try:
        if "notifier" in services and not os.environ.get("SMTP_HOST") and not port_open(1025):
            # No mail relay configured: catch the e-mails in var/mail/ so they can be read.
            log = open(sup.log_dir / "mailcatcher.log", "ab")  # noqa: SIM115
            mailcatcher = subprocess.Popen([sys.executable, "-m", "deploy.mailcatcher"], cwd=ROOT,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if "console" in services:
            console_tokens(services)
        for s in services:
            sup.start(s)
        for s in services:
            sup.wait_ready(s)
        if not args.no_demo:
            load_demo_data(args.var)
            if "allocation" in services:
                load_demo_needs()
        tokens = staff_tokens(services)
        print("\nVux Västerbotten is running:")
        for s in services:
            print(f"  {s:<11} http://127.0.0.1:{port_of(s)}/   (logs: {sup.log_dir}/{s}.log)")
        for line in tokens:
            print(line)
        if mailcatcher:
            print("  e-mails are kept as files in var/mail/ (development mail catcher on port 1025)")
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping:
            sup.revive()
            time.sleep(0.5)
        return 0
    except Exception as exc:  # noqa: BLE001
        print(f"stopping: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("stopping services ...")
        sup.stop_all()
        if mailcatcher and mailcatcher.poll() is None:
            mailcatcher.terminate()
            mailcatcher.wait(10)
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
