"""The whole system on the 1,094-course catalogue, for the quality scorers in ../shared/eval.

    python -m scripts.eval_system [--var DIR] [--score]

Starts every service through deploy.launcher (no demo data, own SQLite files under DIR, its own
exchange and queue prefix, the chat's per-client limit lifted for the scorers), pushes the generated
catalogue of all 1,094 Skolverket courses (services.catalogue.demo.catalogue_feed) as one region
feed, and waits until search has embedded every course. Then it prints the scorer commands, or with
--score runs them (understand dev; evaluate dev and learner_dev, each query's result in DIR/per_query.jsonl)
and stops; without it the system
runs until Ctrl-C. The ports are make run's (SEARCH_PORT etc. move them), so stop make run first.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"
COURSES = 1094


def metric(base: str, name: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        text = r.read().decode()
    found = re.findall(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(found[0]) if found else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--var", type=Path, default=ROOT / "var" / "eval")
    ap.add_argument("--score", action="store_true", help="run the scorers, then stop")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from deploy.launcher import ORDER, cli, port_of
    from services.catalogue.demo import catalogue_feed

    args.var.mkdir(parents=True, exist_ok=True)
    os.environ.update({"EVENTS_EXCHANGE": "vux.bench.eval", "QUEUE_PREFIX": "bench.eval.",
                       "GUIDANCE__CHAT_RATE_PER_MINUTE": "100000", "LOG_LEVEL": "WARNING",
                       "FEED_MAX_BYTES": str(64 * 2**20)})
    for s in ORDER:
        (args.var / f"{s}.db").unlink(missing_ok=True)
        os.environ[f"{s.upper()}__DATABASE_URL"] = f"sqlite+aiosqlite:///{args.var}/{s}.db"
    launcher = subprocess.Popen([sys.executable, "-m", "deploy.launcher", "--no-demo", "--var", str(args.var)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        for line in launcher.stdout:
            if "Press Ctrl-C" in line:
                break
        else:
            raise SystemExit("the launcher stopped before the system was ready")
        catalogue = f"http://127.0.0.1:{port_of('catalogue')}"
        search = f"http://127.0.0.1:{port_of('search')}"
        token = cli("catalogue", "token", "create", "--region", "--name", "eval")
        req = urllib.request.Request(f"{catalogue}/v1/feeds/2480?confirm_withdrawals=true", method="PUT",
                                     data=json.dumps(catalogue_feed(COURSES)).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=300).close()
        t0 = time.monotonic()
        while (metric(search, 'vux_search_index_documents{kind="course"}') < COURSES
               or metric(search, "vux_search_waiting_documents") > 0):
            time.sleep(2)
        print(f"eval system: {COURSES} courses searchable after {time.monotonic() - t0:.0f} s", flush=True)
        guidance = f"http://127.0.0.1:{port_of('guidance')}"
        commands = [[sys.executable, str(EVAL / "understand.py"), "--set", "dev", "--base", guidance],
                    [sys.executable, str(EVAL / "evaluate.py"), "--set", "dev,learner_dev", "--retriever", "http",
                     "--base", search, "--per-query", str(args.var / "per_query.jsonl")]]
        if not args.score:
            for c in commands:
                print("  " + " ".join(c))
            print("Press Ctrl-C to stop.", flush=True)
            launcher.wait()
            return 0
        for c in commands:
            subprocess.run(c, cwd=EVAL, check=True)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if launcher.poll() is None:
            launcher.send_signal(2)
            launcher.wait(60)
        from scripts.broker_tidy import tidy

        tidy(("bench.eval.",))


if __name__ == "__main__":
    sys.exit(main())
