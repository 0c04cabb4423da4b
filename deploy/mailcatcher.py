"""A development SMTP server for `make run`: keeps every e-mail as an .eml file under var/mail/.

Not for production: there the notifier talks to the county's mail relay (SMTP_HOST, SMTP_PORT).
"""
from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path

from aiosmtpd.controller import Controller


class ToFiles:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.n = len(list(out.glob("*.eml")))

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        self.n += 1
        to = re.sub(r"[^A-Za-z0-9@._-]", "_", envelope.rcpt_tos[0] if envelope.rcpt_tos else "unknown")
        (self.out / f"{self.n:05d}-{to}.eml").write_bytes(envelope.original_content)
        return "250 OK"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=1025)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "var" / "mail"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    controller = Controller(ToFiles(out), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"mail catcher on 127.0.0.1:{args.port}, writing to {out}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
