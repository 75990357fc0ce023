"""`make demo`, coordinated disclosure (issue 14): the reproduced report from the validation
part opens a case with a vendor; the vendor answers and posts a fix, which the sandbox verifies;
an operator in the sharing group gets the early warning; the deadline ends in publication; and
every notification reaches the operator's webhook receiver on 127.0.0.1, which verifies the
Standard Webhooks signature with the `standardwebhooks` library (and refuses a tampered copy).

Imported by scripts/demo.py; `python scripts/demo.py coordination` runs it on its own."""

from __future__ import annotations

import base64
import difflib
import json
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "examples" / "recipes" / "c-heap-overflow"

# The demo's disclosure policy: OpenSSF's numbers, except that publication follows at once
# once every vendor is fixed (the default grace is 7 days). Written to var/ and named by
# CLEARINGHOUSE_COORDINATION_DEADLINE_POLICY for the API and the workers alike.
DEADLINE_POLICY = "all_fixed_grace_days: 0\n"


def deadline_policy(var: Path) -> Path:
    path = var / "deadline-policy.yaml"
    path.write_text(
        "# The demo's disclosure policy (coordination.deadlines.DeadlinePolicy keys)\n"
        + DEADLINE_POLICY
    )
    return path


class Receiver:
    """An operator's webhook endpoint: verifies each delivery's signature, keeps what verified."""

    def __init__(self) -> None:
        self.secret = ""
        self.verified: list[dict[str, Any]] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []  # as received, for the tamper check
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    receiver.refused += 1
                    self.send_response(400)
                else:
                    receiver.verified.append({"id": headers["webhook-id"], **json.loads(body)})
                    receiver.raw.append((body, headers))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/clearinghouse"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self) -> list[str]:
        return [str(d.get("type") or d.get("kind") or "?") for d in self.verified]

    def close(self) -> None:
        self.server.shutdown()


def _patch() -> bytes:
    vulnerable = (RECIPE / "vulnerable" / "records.c").read_text().splitlines(keepends=True)
    fixed = (RECIPE / "fixed" / "records.c").read_text().splitlines(keepends=True)
    diff = difflib.unified_diff(vulnerable, fixed, fromfile="a/records.c", tofile="b/records.c")
    return "".join(diff).encode()


def coordination_part(  # type: ignore[no-untyped-def]
    step: Callable[[str], None],
    call,
    join: Callable[[str, str], str],
    start_worker: Callable[[], subprocess.Popen[bytes]],
    vuln_id: str,
) -> None:
    step(
        "Coordination: the coordinator registers a vendor and a water utility (an operator "
        "in the case's sharing group); the utility registers a webhook (Standard Webhooks)"
    )
    vendor = call("POST", "/api/v1/orgs", json={"name": "Records Inc.", "kind": "vendor"})
    utility = call("POST", "/api/v1/orgs", json={"name": "City Water", "kind": "operator"})
    vendor_token = join(vendor["id"], "psirt@records.example")
    utility_token = join(utility["id"], "soc@water.example")
    receiver = Receiver()
    hook = call(
        "POST",
        "/api/v1/webhooks",
        token=utility_token,
        json={"url": receiver.url, "events": ["case.*", "vuln.published"]},
    )
    receiver.secret = hook["secret"]  # shown once
    print(f"webhook {hook['id']} -> {receiver.url} (secret shown once, sealed at rest)")

    step(f"The coordinator opens a case over the reproduced record {vuln_id} (TLP:AMBER)")
    case = call(
        "POST",
        "/api/v1/cases",
        json={
            "vuln_ids": [vuln_id],
            "title": "Heap overflow in the records parser",
            "tlp": "AMBER",
        },
    )
    cid = case["id"]
    for org, role in ((vendor["id"], "vendor"), (utility["id"], "operator_group")):
        call("POST", f"/api/v1/cases/{cid}/participants", json={"org_id": org, "role": role})
    notified = call("POST", f"/api/v1/cases/{cid}/transition", json={"to": "vendors_notified"})
    rule = notified["deadline_detail"]
    print(f"case {cid}: {notified['state']}, deadline {notified['deadline']} ({rule['rule']})")
    outsider = call("POST", "/api/v1/orgs", json={"name": "Other Utility", "kind": "operator"})
    outsider_token = join(outsider["id"], "soc@other.example")
    r = call_status(call, "GET", f"/api/v1/cases/{cid}", outsider_token)
    print(f"an operator outside the sharing group asks for the case: {r}")

    worker = start_worker()
    try:
        step("The vendor answers (affected) and posts its patch; the sandbox verifies the fix")
        call(
            "POST",
            f"/api/v1/cases/{cid}/vendor-status",
            token=vendor_token,
            json={"status": "affected", "statement": "Confirmed; a fix is in review."},
        )
        artifact = call(
            "POST",
            f"/api/v1/cases/{cid}/artifacts",
            token=vendor_token,
            json={
                "filename": "fix.patch",
                "kind": "patch",
                "media_type": "text/x-diff",
                "content_base64": base64.b64encode(_patch()).decode(),
            },
        )
        posted = call(
            "POST",
            f"/api/v1/cases/{cid}/fixes",
            token=vendor_token,
            json={"kind": "patch", "artifact_id": artifact["id"]},
        )
        fix = wait(
            lambda: next(
                (
                    f
                    for f in call("GET", f"/api/v1/cases/{cid}/fixes", token=vendor_token)
                    if f["id"] == posted["id"] and f["state"] == "done"
                ),
                None,
            ),
            what="the fix verification",
            timeout=300,
        )
        print(f"fix {fix['id']}: {fix['result']}")
        for run in fix["runs"]:
            print(f"  {run['poc']}: {run['verdict']}")
        status = call(
            "POST",
            f"/api/v1/cases/{cid}/vendor-status",
            token=vendor_token,
            json={
                "status": "fixed",
                "statement": "Fixed in records 1.1.",
                "fixed_versions": ["pkg:generic/records@1.1"],
            },
        )
        print(f"vendor status: {status['status']} (accepted: the fix was verified)")

        step(
            "Every vendor is fixed: the deadline engine moves the deadline to now, and the "
            "periodic publication job publishes the case"
        )
        published = wait(
            lambda: (c := call("GET", f"/api/v1/cases/{cid}"))["state"] == "published" and c,
            what="publication at the deadline",
            timeout=120,
        )
        print(f"case {cid}: {published['state']}")
        osv = call("GET", f"/v1/vulns/{vuln_id}")
        print(f"public OSV API now serves {osv['id']} (modified {osv['modified']})")

        step("The utility's webhook receiver: what it got, each signature verified")
        wait(
            lambda: "vuln.published" in receiver.kinds() or None,
            what="the publication webhook",
            timeout=120,
        )
        for kind, delivery in zip(receiver.kinds(), receiver.verified, strict=True):
            print(f"  {delivery['id']}  {kind}")
        if "case.early_warning" not in receiver.kinds():
            raise SystemExit("the sharing group's early warning never arrived")
        early = next(d for d in receiver.verified if "case.early_warning" in json.dumps(d))
        text = json.dumps(early)
        assert "poc" not in text.lower() and "recipe" not in text.lower(), text
        print(
            f"  the early warning ({'TLP:' + early['data']['tlp']}) carries what is affected and the "
            "mitigation, never the PoC"
        )
        body, headers = receiver.raw[-1]
        tampered = body.replace(b"vuln.published", b"vuln.withdrawn")
        try:
            Webhook(receiver.secret).verify(tampered, headers)
            raise SystemExit("a tampered delivery verified")
        except WebhookVerificationError:
            print("  a tampered copy of a delivery fails verification, as it must")
        if receiver.refused:
            raise SystemExit(f"{receiver.refused} deliveries failed verification")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        receiver.close()


def call_status(call, method: str, path: str, token: str) -> str:  # type: ignore[no-untyped-def]
    try:
        call(method, path, token=token)
    except SystemExit as refused:
        return str(refused).split(" -> ", 1)[-1][:40]
    raise SystemExit(f"{path} answered an outsider")


def wait(probe: Callable[[], Any], *, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(1)
    raise SystemExit(f"{what} did not happen within {timeout:.0f}s")
