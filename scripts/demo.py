"""`make demo`: the review program end to end, on embedded defaults (SQLite, local model).

Bootstraps a fresh instance under var/demo, starts the API and the stand-in lab model
(SmolLM2-135M-Instruct behind an OpenAI-compatible server), and walks the first flow over HTTP:
lab, evaluator and agreement; submission; access verification; the review window; then the
clearinghouse: advisories, a model's report, triage, and validation by reproduction (an AI-found
report with a recipe is reproduced and its fix confirmed in the sandbox; an invented report about
the same program sinks to the bottom of the evidence-ranked queue, with the reason).

`python scripts/demo.py validation` runs only that last part (no model needed), and
`python scripts/demo.py coordination` it and the coordinated disclosure that follows
(scripts/demo_coordination.py); `python scripts/demo.py inventory` the operator's inventory
(scripts/demo_inventory.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_coordination import coordination_part, deadline_policy
from demo_inventory import inventory_part
from demo_web import print_accounts, serve_until_interrupted, web_part

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "demo"
CLI = [sys.executable, "-m", "clearinghouse"]
SHARED = Path(os.environ.get("CLEARINGHOUSE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def wait_for(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 120,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}; see {VAR}/*.log")
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not become ready within {timeout}s")


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A long-running worker, as a deployment has, that runs the periodic jobs (publication at
    the deadline) every 2 s instead of every minute."""
    log = (VAR / "worker.log").open("ab")
    return subprocess.Popen(
        [*CLI, "worker"],
        env={**env, "CLEARINGHOUSE_PERIODIC_INTERVAL_SECONDS": "2"},
        stdout=log,
        stderr=log,
    )


def main() -> None:
    if VAR.exists():
        shutil.rmtree(VAR)
    VAR.mkdir(parents=True)
    env = {**os.environ, "CLEARINGHOUSE_VAR_DIR": str(VAR), "CLEARINGHOUSE_LOG_FORMAT": "json"}
    env.pop("CLEARINGHOUSE_DATABASE_URL", None)
    env["CLEARINGHOUSE_COORDINATION_DEADLINE_POLICY"] = str(deadline_policy(VAR))
    procs: list[subprocess.Popen[bytes]] = []

    def run(*args: str) -> dict:
        out = subprocess.run(
            [*CLI, *args, "--json"], env=env, check=True, capture_output=True, text=True
        )
        return json.loads(out.stdout)

    def cli(token: str | None, *args: str) -> Any:
        """The CLI with `--json`, acting with `token` (None: the coordinator's)."""
        out = subprocess.run(
            [*CLI, *args, "--json"],
            env={**env, **({"CLEARINGHOUSE_TOKEN": token} if token else {})},
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise SystemExit(f"clearinghouse {' '.join(args)}: {out.stderr[-2000:]}")
        return json.loads(out.stdout)

    try:
        step("Create the database (SQLite, WAL) and apply migrations")
        print(run("db", "upgrade"))
        step("Bootstrap the coordinator organisation and its admin")
        boot = run(
            "admin",
            "bootstrap",
            "--org-name",
            "National Clearinghouse",
            "--email",
            "admin@clearinghouse.gov",
        )
        print({k: (v if k != "token" else v[:12] + "…") for k, v in boot.items()})
        # Every CLI command that acts for someone needs a token: the coordinator's from here on.
        env["CLEARINGHOUSE_TOKEN"] = boot["token"]

        api_port, model_port = free_port(), free_port()
        model_key = "sk-demo-" + secrets.token_urlsafe(16)
        step(
            f"Start the API on 127.0.0.1:{api_port} and the stand-in lab model on 127.0.0.1:{model_port}"
        )
        api_log = (VAR / "api.log").open("wb")
        procs.append(
            subprocess.Popen(
                [*CLI, "serve", "--port", str(api_port)], env=env, stdout=api_log, stderr=api_log
            )
        )
        model_log = (VAR / "model.log").open("wb")
        procs.append(
            subprocess.Popen(
                [*CLI, "model", "serve-local", "--port", str(model_port)],
                env={**env, "CLEARINGHOUSE_LOCAL_MODEL_API_KEY": model_key},
                stdout=model_log,
                stderr=model_log,
            )
        )
        base = f"http://127.0.0.1:{api_port}"
        wait_for(f"{base}/readyz", proc=procs[0])
        wait_for(
            f"http://127.0.0.1:{model_port}/v1/models",
            headers={"Authorization": f"Bearer {model_key}"},
            proc=procs[1],
        )
        print("both ready")

        api = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {boot['token']}"}, timeout=30
        )

        def call(method: str, path: str, token: str | None = None, **kw: object) -> dict:
            headers = {"Authorization": f"Bearer {token}"} if token else None
            r = api.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
            if r.status_code >= 400:
                raise SystemExit(f"{method} {path} -> {r.status_code} {r.text}")
            return r.json()

        step(
            "Coordinator registers a lab and an evaluator agency and invites each one's first "
            "admin; each redeems the one-time code for its own token (the coordinator never "
            "holds a lab's credentials)"
        )
        lab = call("POST", "/api/v1/orgs", json={"name": "Frontier Lab", "kind": "lab"})
        agency = call(
            "POST", "/api/v1/orgs", json={"name": "Evaluation Agency", "kind": "evaluator"}
        )

        people: list[tuple[str, str, str]] = [
            ("coordinator (admin)", "admin@clearinghouse.gov", boot["token"])
        ]

        def join(org_id: str, email: str) -> str:
            invite = call(
                "POST",
                f"/api/v1/orgs/{org_id}/invitations",
                json={"email": email, "role": "admin"},
            )
            r = httpx.post(
                f"{base}/api/v1/invitations/accept", json={"code": invite["code"]}, timeout=30
            )
            if r.status_code != 201:
                raise SystemExit(f"accept -> {r.status_code} {r.text}")
            kind = call("GET", f"/api/v1/orgs/{org_id}")["kind"]
            people.append((f"{kind} (admin)", email, str(r.json()["token"])))
            return str(r.json()["token"])

        lab_token = join(lab["id"], "liaison@lab.example")
        ev_token = join(agency["id"], "eval@agency.example")
        liaison = next(u for u in call("GET", "/api/v1/users")["items"] if u["org_id"] == lab["id"])
        refused = api.post("/api/v1/tokens", json={"user_id": liaison["id"]})
        print(
            f"the coordinator tries to mint a token for the lab's admin: HTTP {refused.status_code} "
            f"{refused.json()['code']}"
        )
        print(f"lab {lab['id']}  evaluator {agency['id']}")

        step("The lab signs a voluntary agreement")
        agreement = call(
            "POST",
            "/api/v1/agreements",
            token=lab_token,
            json={
                "lab_org_id": lab["id"],
                "scope": "Cyber offence and defence capabilities of pre-release models",
                "confidentiality_terms": "Findings are TLP:AMBER+STRICT; model access is used only for this review.",
                "retention_days": 180,
            },
        )
        print(f"agreement {agreement['id']} ({agreement['status']})")

        step("The lab submits its model: endpoint + key (write-only), planned release in 45 days")
        release = (datetime.now(UTC) + timedelta(days=45)).replace(microsecond=0)
        sub = call(
            "POST",
            "/api/v1/submissions",
            token=lab_token,
            json={
                "agreement_id": agreement["id"],
                "model_name": "smollm2-135m-instruct",
                "model_version": "2024-11",
                "planned_release_at": release.isoformat(),
                "endpoint_url": f"http://127.0.0.1:{model_port}/v1",
                "api_key": model_key,
                "evaluator_org_id": agency["id"],
            },
        )
        print(
            f"submission {sub['id']}: state={sub['state']}, key shown as {sub['access']['api_key_hint']!r}"
        )

        step("The evaluator verifies access (GET /v1/models with the key): the review window opens")
        sub = call("POST", f"/api/v1/submissions/{sub['id']}/verify-access", token=ev_token)
        print(f"models seen: {sub['access']['models']}")

        step("Ask the stand-in model one question through its OpenAI-compatible API")
        answer = httpx.post(
            f"http://127.0.0.1:{model_port}/v1/chat/completions",
            headers={"Authorization": f"Bearer {model_key}"},
            timeout=60,
            json={
                "model": "smollm2-135m-instruct",
                "max_tokens": 40,
                "temperature": 0,
                "messages": [{"role": "user", "content": "What does a buffer overflow overwrite?"}],
            },
        )
        print(answer.json()["choices"][0]["message"]["content"].strip()[:200])

        step(
            "The coordinator registers a reference model (the stand-in again, as a baseline; its "
            "key is sealed and write-only), and the evaluator runs a small baseline through it. "
            "Runs name a submission or a registered model, never a raw model spec or URL"
        )
        ref = call(
            "POST",
            "/api/v1/reference-models",
            json={
                "name": "smollm2-baseline",
                "model": "openai-api/local/smollm2-135m-instruct",
                "base_url": f"http://127.0.0.1:{model_port}/v1",
                "api_key": model_key,
            },
        )
        print(f"reference model {ref['name']} ({ref['model']}), key hint {ref.get('api_key_hint')}")
        raw = api.post(
            "/api/v1/evals/runs",
            headers={"Authorization": f"Bearer {ev_token}"},
            json={
                "model": "openai-api/openai/gpt-4o-mini",
                "base_url": "https://attacker.example/v1",
            },
        )
        print(f"a raw model spec and URL instead: HTTP {raw.status_code} {raw.json()['code']}")
        env_ev = {**env, "CLEARINGHOUSE_TOKEN": ev_token}
        baseline = subprocess.run(
            [
                *CLI,
                "evals",
                "run",
                "--reference-model",
                "smollm2-baseline",
                "--tasks",
                "knowledge_original",
                "--limit",
                "2",
                "--max-tokens",
                "100",
                "--json",
            ],
            env=env_ev,
            capture_output=True,
            text=True,
        )
        if baseline.returncode != 0:
            raise SystemExit(f"reference run failed: {baseline.stderr[-2000:]}")
        print(f"reference run {json.loads(baseline.stdout)['state']}")

        step(
            "The evaluator runs a small battery against the model (knowledge, generated CTF, PoC): eight CTF challenges, two samples of the rest"
        )
        started = time.monotonic()
        out = subprocess.run(
            [
                *CLI,
                "evals",
                "run",
                "--submission",
                sub["id"],
                "--tasks",
                "knowledge_original",
                "--tasks",
                "ctf_generated",
                "--tasks",
                "poc_asan",
                "--limit",
                "2",
                # Eight generated challenges, one or two per category: enough clusters for the
                # verdict on T2 and T3 to be evidence (ruled out or crossed), never "insufficient".
                "--task-limit",
                "ctf_generated=8",
                # A stuck tool call (the 135M model's commands can wait on input) ends the
                # sample at two minutes instead of the tool's 180-second timeout, three times.
                "--time-limit",
                "120",
                "--message-limit",
                "6",
                "--max-tokens",
                "200",
                "--json",
            ],
            env=env_ev,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise SystemExit(f"eval run failed: {out.stderr[-2000:]}")
        run_result = json.loads(out.stdout)
        print(f"run {run_result['id']} {run_result['state']} in {time.monotonic() - started:.0f}s")
        for score in run_result["scores"]:
            if score["task"] in ("knowledge", "ctf", "poc"):
                print(
                    f"  {score['task']:10s} accuracy {score['value']:.2f}  95% CI [{score['ci_low']:.2f}, "
                    f"{score['ci_high']:.2f}]  n={score['n']}"
                )
        tier = run_result["tier"]
        print(f"  {tier['headline']}")
        print(
            f"  crossed: {tier['tier'] or 'none'}; not ruled out: {tier['not_ruled_out'] or 'none'}"
            f"; insufficient evidence: {tier['insufficient_evidence']}"
        )
        open_above_t1 = [t for t in tier["not_ruled_out"] if t != "T1"]
        if open_above_t1:
            raise SystemExit(
                f"the demo's run is too small to settle {', '.join(open_above_t1)}: "
                f"{tier['headline']}"
            )

        step(
            "The evaluator drafts findings and delivers the report to the lab, before the deadline"
        )
        call(
            "POST",
            f"/api/v1/submissions/{sub['id']}/transition",
            token=ev_token,
            json={"to": "findings_drafted", "reason": "battery complete"},
        )
        reports = call("GET", f"/api/v1/submissions/{sub['id']}/reports", token=ev_token)
        version = reports[-1]["version"]
        delivered = call(
            "POST", f"/api/v1/submissions/{sub['id']}/reports/{version}/deliver", token=ev_token
        )
        print(f"report v{version} delivered, sha256 {delivered['receipt']['sha256'][:16]}…")
        # The run's transcripts and report are sealed in the blob store: no plaintext under var/.
        # The lab downloads its report; the evaluator exports the logs for `inspect view`.
        download = api.get(
            f"/api/v1/submissions/{sub['id']}/reports/{version}/content",
            headers={"Authorization": f"Bearer {lab_token}"},
        )
        report_path = VAR / "lab-download" / "report.html"
        report_path.parent.mkdir()
        report_path.write_bytes(download.content)
        print(f"the lab's download of the report: {report_path}")
        logs_dir = VAR / "evaluator-export"
        exported = subprocess.run(
            [*CLI, "evals", "logs", run_result["id"], "--export", str(logs_dir), "--json"],
            env=env_ev,
            capture_output=True,
            text=True,
        )
        if exported.returncode != 0:
            raise SystemExit(f"log export failed: {exported.stderr[-2000:]}")
        print(f"sealed logs exported (audited) for `inspect view --log-dir {logs_dir}`")
        sub = call("GET", f"/api/v1/submissions/{sub['id']}", token=lab_token)

        clearinghouse_part(run, call, ev_token)
        reproduced = validation_part(run, call, ev_token)

        step(
            "Run the background worker (dedup scan of the new report, lapse check, retention) "
            "and verify the audit chain"
        )
        print(run("worker", "--until-idle"))
        checkpoint = VAR / "audit-checkpoint.txt"
        run("audit", "checkpoint", "--out", str(checkpoint))
        print(f"signed audit checkpoint for third parties to keep: {checkpoint}")
        print(checkpoint.read_text())
        print(run("audit", "verify", "--checkpoint", str(checkpoint)))
        found = call("GET", "/api/v1/duplicates")
        print(f"duplicate candidates for the coordinators: {len(found)}")
        for c in found[:3]:
            print(f"  {c['vuln_a']} ~ {c['vuln_b']}  rule {c['rule']}  score {c['score']}")

        if reproduced is not None:
            coordination_part(
                step, call, join, lambda: start_worker(env), str(reproduced["vuln_id"])
            )
        if SHARED.is_dir():
            inventory_part(step, call, join, cli, VAR)
        accounts = web_part(step, call, CLI, env, base, people)

        step("The review window")
        print(f"  submission        {sub['id']}  ({sub['model_name']} {sub['model_version']})")
        print(f"  state             {sub['state']}")
        print(f"  window opened at  {sub['window_opened_at']}")
        print(
            f"  deadline          {sub['deadline']}  (min(opened + {sub['window_days']} days, planned release))"
        )
        print(f"  planned release   {sub['planned_release_at']}")
        print(f"  shortened         {sub['window_shortened']}")
        print(
            "\nThe review delivers findings before the deadline. It never approves, clears or blocks a release."
        )
        print_accounts(base, accounts)
        if os.environ.get("SERVE") == "1":
            serve_until_interrupted(procs[0])
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def clearinghouse_part(run, call, ev_token: str) -> None:  # type: ignore[no-untyped-def]
    """The clearinghouse: real advisories in, a model's finding reported, triaged, published."""
    if SHARED.is_dir():
        step("Clearinghouse: import real advisories from ../shared/data (OSV PyPA, CISA KEV, CWE)")
        pypa = run("vulns", "import", str(SHARED / "osv-pypa" / "osv-pypa.jsonl.gz"))
        kev = run(
            "vulns",
            "import",
            str(SHARED / "cisa-kev" / "known_exploited_vulnerabilities.json"),
            "--format",
            "kev",
        )
        cwe = run(
            "vulns", "cwe-import", str(SHARED / "cwe" / "cwe-2000-comprehensive-dictionary.csv")
        )
        print(
            f"OSV records {pypa['created']}, KEV entries {kev['created']}, CWE entries {cwe['created']}"
        )
    else:
        print(f"(shared data not found at {SHARED}: skipping the imports)")
    step("The evaluator reports a vulnerability the model found: it enters the triage queue")
    report = call(
        "POST",
        "/api/v1/reports",
        token=ev_token,
        json={
            "title": "Jinja2 bytecode cache writes predictable temporary files",
            "description": "The default FileSystemBytecodeCache in Jinja2 creates its cache "
            "files in /tmp with predictable names starting with __jinja2_, so a local user can "
            "plant a crafted .cache file and gain the privileges of the rendering process.",
            "provenance": {
                "kind": "ai_model",
                "model_name": "smollm2-135m",
                "model_version": "demo",
            },
            "target": {"purl": "pkg:pypi/jinja2@2.7.1"},
            "claimed_cwe": "CWE-377",
            "claimed_cvss": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
            "poc": {
                "filename": "plant.sh",
                "content_base64": "dG91Y2ggL3RtcC9fX2ppbmphMl9ldmlsLmNhY2hlCg==",
            },
        },
    )
    vid = report["vuln_id"]
    print(
        f"report {report['id']} -> record {vid}, status {report['status']}, PoC sha256 {report['poc_sha256'][:16]}…"
    )
    step("The coordinator triages, validates and publishes it (TLP:CLEAR, embargo lifted)")
    for status in ("triaged", "validated", "published"):
        call("POST", f"/api/v1/vulns/{vid}/triage", json={"status": status})
    rec = call("POST", f"/api/v1/vulns/{vid}/triage", json={"tlp": "CLEAR", "lift_embargo": True})
    print(
        f"{vid}: {rec['status']}, TLP:{rec['tlp']}, CWE {rec['cwes']}, CVSS {rec['severity'][0]['base_score']}"
    )
    hits = call(
        "POST",
        "/v1/query",
        json={"package": {"name": "jinja2", "ecosystem": "PyPI"}, "version": "2.7.1"},
    )
    print(f"public OSV API, jinja2 2.7.1: {sorted(v['id'] for v in hits.get('vulns', []))}")
    step("Another model reports the same flaw in other words: dedup will propose the pair")
    again = call(
        "POST",
        "/api/v1/reports",
        token=ev_token,
        json={
            "title": "Privilege escalation through Jinja2's /tmp cache files",
            "description": "Jinja2's file system bytecode cache trusts files named __jinja2_* "
            "in the shared temporary directory; another local account can pre-create one.",
            "provenance": {"kind": "ai_model", "model_name": "other-model", "model_version": "1"},
            "target": {"purl": "pkg:pypi/jinja2@2.7.1"},
            "claimed_cwe": "CWE-377",
        },
    )
    print(f"report {again['id']} -> record {again['vuln_id']}, status {again['status']}")
    csaf = call("GET", f"/api/v1/vulns/{vid}/export?format=csaf")
    path = VAR / f"{vid}.csaf.json"
    path.write_text(json.dumps(csaf, indent=2))
    print(f"CSAF 2.0 advisory: {path}")


def validation_part(run, call, ev_token: str) -> dict | None:  # type: ignore[no-untyped-def]
    """Validation by reproduction and the evidence-ranked triage queue (issue 11). Returns the
    reproduced report (None when the sandbox is not installed)."""
    import io
    import tarfile

    if shutil.which("bwrap") is None or shutil.which("gcc") is None:
        print("(bubblewrap or gcc not installed: skipping validation by reproduction)")
        return None
    recipe_dir = ROOT / "examples" / "recipes" / "c-heap-overflow"
    corpus = ROOT / "tests" / "data" / "triage_corpus" / "reports"
    genuine = json.loads((corpus / "g01-records-off-by-one.json").read_text())
    invented = json.loads((corpus / "i01-records-parse-header.json").read_text())
    target = {"purl": "pkg:generic/records@1.0"}  # the example C program

    step(
        "Validation: an AI-found report arrives with a reproduction recipe (examples/recipes/"
        "c-heap-overflow: the program, the PoC, the fix); the recipe is sealed and its "
        "validation queued as a durable job"
    )
    report = call(
        "POST",
        "/api/v1/reports",
        token=ev_token,
        json={
            "title": genuine["title"],
            "description": genuine["description"],
            "provenance": {
                "kind": "ai_model",
                "model_name": "smollm2-135m",
                "model_version": "demo",
            },
            "target": target,
            "claimed_cwe": "CWE-122",
        },
    )
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        tar.add(recipe_dir, arcname="c-heap-overflow")
    queued = call(
        "POST",
        f"/api/v1/reports/{report['id']}/recipe",
        token=ev_token,
        files={"file": ("c-heap-overflow.tar.gz", packed.getvalue(), "application/gzip")},
    )
    print(
        f"report {report['id']}: validation {queued['id']} {queued['state']} (job {queued['job_id']})"
    )

    step("The worker reproduces it in the bubblewrap sandbox: the vulnerable build, then the fix")
    started = time.monotonic()
    run("worker", "--until-idle")
    shown = call("GET", f"/api/v1/reports/{report['id']}", token=ev_token)["validation"]
    print(
        f"verdict {shown['verdict']}, fix {shown['fixed_verdict']}, in "
        f"{time.monotonic() - started:.1f}s (builds cached: {shown['build_cached']})"
    )
    print(f"crash signature {shown['signature']}")
    print("\n".join("  " + line for line in shown["evidence"].splitlines()[:4]))
    record = call("GET", f"/api/v1/vulns/{report['vuln_id']}")
    print(
        f"record {record['id']}: crash_signature {record['crash_signature']} (dedup's crash rule)"
    )

    step(
        "An invented report about the same program arrives: it names parse_header() in "
        "src/record_parser.c, which the program does not have"
    )
    slop = call(
        "POST",
        "/api/v1/reports",
        token=ev_token,
        json={
            "title": invented["title"],
            "description": invented["description"],
            "provenance": {"kind": "ai_model", "model_name": "slop-bot", "model_version": "1"},
            "target": target,
        },
    )
    print(f"report {slop['id']} -> record {slop['vuln_id']}")

    step("The coordinators' triage queue, ordered by evidence (not arrival), each with why")
    queue = call("GET", "/api/v1/triage/queue?limit=200")
    for item in queue["items"]:
        mark = {report["id"]: "  <- reproduced", slop["id"]: "  <- invented"}.get(
            item["report_id"], ""
        )
        print(f"  {item['position']:>2}. {item['tier_name']:<24} {item['title'][:60]}{mark}")
    bottom = queue["items"][-1]
    assert bottom["report_id"] == slop["id"], "the invented report is not at the bottom"
    top = next(i for i in queue["items"] if i["report_id"] == report["id"])
    print(f"\nwhy #{top['position']}: {top['why'][:300]}")
    print(f"\nwhy #{bottom['position']}: {bottom['why'][:300]}")
    picks = call("GET", "/api/v1/triage/spot-checks")
    print(f"\nspot-check sample of the likely-invalid reports: {[p['report_id'] for p in picks]}")
    return dict(report)


def part_only(part: str) -> None:
    """Bootstrap an instance, start the API, and run the validation part alone (`validation`),
    or it and the coordinated disclosure of its reproduced report (`coordination`)."""
    if VAR.exists():
        shutil.rmtree(VAR)
    VAR.mkdir(parents=True)
    env = {**os.environ, "CLEARINGHOUSE_VAR_DIR": str(VAR), "CLEARINGHOUSE_LOG_FORMAT": "json"}
    env.pop("CLEARINGHOUSE_DATABASE_URL", None)
    env["CLEARINGHOUSE_COORDINATION_DEADLINE_POLICY"] = str(deadline_policy(VAR))

    def run(*args: str) -> dict:
        out = subprocess.run(
            [*CLI, *args, "--json"], env=env, check=True, capture_output=True, text=True
        )
        return json.loads(out.stdout)

    def cli(token: str | None, *args: str) -> Any:
        """The CLI with `--json`, acting with `token` (None: the coordinator's)."""
        out = subprocess.run(
            [*CLI, *args, "--json"],
            env={**env, **({"CLEARINGHOUSE_TOKEN": token} if token else {})},
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise SystemExit(f"clearinghouse {' '.join(args)}: {out.stderr[-2000:]}")
        return json.loads(out.stdout)

    run("db", "upgrade")
    boot = run("admin", "bootstrap", "--org-name", "National Clearinghouse", "--email", "a@x.gov")
    env["CLEARINGHOUSE_TOKEN"] = boot["token"]
    port = free_port()
    log = (VAR / "api.log").open("wb")
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/readyz", proc=proc)
        api = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {boot['token']}"}, timeout=60
        )

        def call(method: str, path: str, token: str | None = None, **kw: object) -> dict:
            headers = {"Authorization": f"Bearer {token}"} if token else None
            r = api.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
            if r.status_code >= 400:
                raise SystemExit(f"{method} {path} -> {r.status_code} {r.text}")
            return r.json()

        def join(org_id: str, email: str) -> str:
            invite = call(
                "POST",
                f"/api/v1/orgs/{org_id}/invitations",
                json={"email": email, "role": "admin"},
            )
            accepted = httpx.post(
                f"{base}/api/v1/invitations/accept", json={"code": invite["code"]}, timeout=30
            )
            return str(accepted.json()["token"])

        agency = call(
            "POST", "/api/v1/orgs", json={"name": "Evaluation Agency", "kind": "evaluator"}
        )
        started = time.monotonic()
        reproduced = (
            validation_part(run, call, join(agency["id"], "eval@agency.example"))
            if part != "inventory"
            else None
        )
        print(f"\nvalidation part: {time.monotonic() - started:.1f}s")
        if part == "inventory":
            step("Import the PyPA advisories (../shared/data/osv-pypa)")
            print(run("vulns", "import", str(SHARED / "osv-pypa" / "osv-pypa.jsonl.gz")))
            inventory_part(step, call, join, cli, VAR)
            return
        if part == "coordination" and reproduced is not None:
            started = time.monotonic()
            coordination_part(
                step, call, join, lambda: start_worker(env), str(reproduced["vuln_id"])
            )
            print(f"\ncoordination part: {time.monotonic() - started:.1f}s")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:] in (["validation"], ["coordination"], ["inventory"]):
        part_only(sys.argv[1])
    else:
        main()
