"""`make run`: every service as its own process, demo data loaded, URLs printed; Ctrl-C stops all.

Services are found under services/ (each package with a __main__.py). Settings come from the
environment as usual; each service defaults to its own SQLite file under var/.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTS = {"catalogue": 8081, "search": 8082, "allocation": 8083, "notifier": 8084}
ORDER = ["catalogue", "search", "allocation", "notifier"]


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def available_services() -> list[str]:
    return [s for s in ORDER if (ROOT / "services" / s / "__main__.py").exists()]


def port_of(service: str) -> int:
    return int(os.environ.get(f"{service.upper()}_PORT", PORTS[service]))


def start(service: str, log_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "HTTP_PORT": str(port_of(service)), "LOG_JSON": os.environ.get("LOG_JSON", "true")}
    for other in PORTS:
        env.setdefault(f"{other.upper()}_URL", f"http://127.0.0.1:{port_of(other)}")
    log = open(log_dir / f"{service}.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
    return subprocess.Popen([sys.executable, "-m", f"services.{service}"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(service: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    url = f"http://127.0.0.1:{port_of(service)}/readyz"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{service} exited with code {proc.returncode}; see var/log/{service}.log")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{service} not ready after {timeout:.0f}s; see var/log/{service}.log")


def load_demo_data() -> None:
    out = subprocess.run([sys.executable, "-m", "services.catalogue", "token", "create", "--region",
                          "--name", "demo-loader"], cwd=ROOT, capture_output=True, text=True, check=True)
    token = out.stdout.strip().splitlines()[-1]
    feeds = ROOT / "var" / "demo-feeds"
    subprocess.run([sys.executable, "-m", "services.catalogue", "demo-feeds", str(feeds)], cwd=ROOT,
                   capture_output=True, check=True)
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


def staff_tokens(services: list[str]) -> list[str]:
    """Fresh tokens so a person can try the staff APIs of the running demo."""
    lines = []
    if "allocation" in services:
        out = subprocess.run([sys.executable, "-m", "services.allocation", "token", "create", "--coordinator",
                              "--name", "demo-coordinator"], cwd=ROOT, capture_output=True, text=True, check=True)
        lines.append(f"  regional coordinator token (allocation): {out.stdout.strip().splitlines()[-1]}")
    if "notifier" in services:
        out = subprocess.run([sys.executable, "-m", "services.notifier", "token", "create", "--operator",
                              "--name", "demo-operator"], cwd=ROOT, capture_output=True, text=True, check=True)
        lines.append(f"  operator token (notifier /v1/deliveries): {out.stdout.strip().splitlines()[-1]}")
    if "search" in services:
        # A demo counsellor with a fresh password each start (printed; never a fixed default).
        out = subprocess.run([sys.executable, "-m", "services.search", "counsellor", "create", "demo",
                              "--name", "Demo Vägledare"], cwd=ROOT, capture_output=True, text=True, check=True)
        password = out.stdout.strip().split("password: ")[-1]
        lines.append(f"  chat page for learners: http://127.0.0.1:{port_of('search')}/")
        lines.append(f"  counsellor page: http://127.0.0.1:{port_of('search')}/counsellor   "
                     f"(user demo, password {password})")
    return lines


def stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    end = time.monotonic() + 15
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it")
            proc.kill()


def main() -> int:
    log_dir = ROOT / "var" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    services = available_services()
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def on_signal(signum, _frame):  # noqa: ANN001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if "notifier" in services and not os.environ.get("SMTP_HOST") and not port_open(1025):
            # No mail relay configured: catch the e-mails in var/mail/ so they can be read.
            log = open(log_dir / "mailcatcher.log", "ab")  # noqa: SIM115
            procs["mailcatcher"] = subprocess.Popen([sys.executable, "-m", "deploy.mailcatcher"], cwd=ROOT,
                                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for s in services:
            procs[s] = start(s, log_dir)
        for s in services:
            wait_ready(s, procs[s])
        load_demo_data()
        tokens = staff_tokens(services)
        print("\nVux Västerbotten is running:")
        for s in services:
            print(f"  {s:<11} http://127.0.0.1:{port_of(s)}/   (logs: var/log/{s}.log)")
        for line in tokens:
            print(line)
        if "mailcatcher" in procs:
            print("  e-mails are kept as files in var/mail/ (development mail catcher on port 1025)")
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with code {proc.returncode}; stopping everything (see var/log/{name}.log)")
                    return 1
            time.sleep(0.5)
        return 0
    except Exception as exc:  # noqa: BLE001
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping services ...")
        stop_all(procs)
        print("stopped.")


if __name__ == "__main__":
    sys.exit(main())
