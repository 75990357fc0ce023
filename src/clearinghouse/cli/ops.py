"""Operator commands: database, keys, audit, jobs, worker, server and the local model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.audit import trail as audit
from clearinghouse.audit import verify as audit_verify_
from clearinghouse.audit.note import MAX_NOTE_BYTES
from clearinghouse.audit.schemas import Actor, CheckpointOut
from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, err, handles_errors, services
from clearinghouse.core.config import get_settings
from clearinghouse.core.errors import ConfigurationError, InvalidInput
from clearinghouse.evals.localmodel import MODEL_ALIAS, server_argv
from clearinghouse.operations import audit as audit_queries
from clearinghouse.operations import jobs as job_services
from clearinghouse.operations import keys as operations_keys
from clearinghouse.workers.runner import Worker

db = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
keys = typer.Typer(help="Master keys and envelope encryption.", no_args_is_help=True)
audit_app = typer.Typer(
    help="The keyed, hash-chained audit trail and its checkpoints.", no_args_is_help=True
)
jobs_app = typer.Typer(help="The durable job queue.", no_args_is_help=True)
model = typer.Typer(help="The stand-in lab model.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db, name="db")
    app.add_typer(keys, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(model, name="model")
    app.command("worker")(worker)
    app.command("serve")(serve)


@db.command("upgrade")
@handles_errors
def db_upgrade(revision: str = "head", as_json: JsonOpt = False) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from clearinghouse.storage import migrate  # Alembic: ~140 ms, only for the commands that use it

    s = services()
    migrate.upgrade(s.db, revision)
    emit(
        {
            "database": s.db.engine.url.render_as_string(hide_password=True),
            "revision": migrate.current(s.db),
        },
        as_json,
    )


@db.command("current")
@handles_errors
def db_current(as_json: JsonOpt = False) -> None:
    from clearinghouse.storage import migrate  # Alembic: ~140 ms, only for the commands that use it

    s = services()
    emit({"revision": migrate.current(s.db), "head": migrate.head(s.db)}, as_json)


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random master key (base64 of 32 bytes) for CLEARINGHOUSE_MASTER_KEY."""
    typer.echo(operations_keys.new_master_key())


@keys.command("rotate")
@handles_errors
def keys_rotate(
    generate: Annotated[
        bool, typer.Option(help="development only: make a new key file, retiring the old one")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-wrap every data key under the current master key.

    In production: set CLEARINGHOUSE_MASTER_KEY to the new key and add the old one to
    CLEARINGHOUSE_RETIRED_MASTER_KEYS, then run this. Rotation is resumable.
    """
    if generate:
        operations_keys.replace_development_key(get_settings())
    rotation = operations_keys.rotate(services().db, get_settings())
    emit({"kek_id": rotation.kek_id, "rewrapped": rotation.rewrapped}, as_json)


@audit_app.command("verify")
@handles_errors
def audit_verify(
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            help="a checkpoint file kept elsewhere (signed note) to check the chain against; "
            "repeatable",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the chain and compare it with the audit key's anchor, the latest stored
    checkpoint, this host's checkpoint log (var/audit/) and every --checkpoint file. Exits 1
    on any failure, naming the first bad event."""
    files = [(str(path), _read_checkpoint(path)) for path in checkpoint or []]
    s = services()
    with s.db.transaction() as session:
        result = audit_verify_.verify_chain(session, files)
    emit(result, as_json)
    if not result.ok:
        raise typer.Exit(1)


def _read_checkpoint(path: Path) -> bytes | None:
    try:
        with path.open("rb") as fh:
            return fh.read(MAX_NOTE_BYTES + 1)  # a larger file is refused as malformed
    except OSError:
        return None


@audit_app.command("checkpoint")
@handles_errors
def audit_checkpoint(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="also write the signed note to this file")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign a checkpoint of the chain now and print it (the signed note)."""
    s = services()
    with s.db.transaction() as session:
        row = audit.write_checkpoint(session, Actor())
        result = CheckpointOut.model_validate(row)
        if out_file is not None:  # inside the transaction: no checkpoint without its file
            try:
                out_file.write_text(result.note, encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(
                    f"cannot write {out_file}: {exc.strerror}", code="checkpoint_out_unwritable"
                ) from exc
    if as_json:
        emit(result, True)
    else:
        typer.echo(result.note, nl=False)


@audit_app.command("key")
@handles_errors
def audit_key(as_json: JsonOpt = False) -> None:
    """Print the verifier key of this instance's checkpoints (give it to whoever keeps them)."""
    s = services()
    with s.db.transaction() as session:
        key = audit.ensure_checkpoint_key(session)
    if as_json:
        emit(key, True)
    else:
        typer.echo(key.verifier_key)


@audit_app.command("list")
@handles_errors
def audit_list(
    tag: str | None = None,
    subject_id: str | None = None,
    limit: int = 50,
    after_seq: int | None = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    with acting(token) as (session, p, _):
        emit(
            audit_queries.list_events(
                session, p, tag=tag, subject_id=subject_id, limit=limit, after_seq=after_seq
            ),
            as_json,
            ["seq", "occurred_at", "tag", "actor_user_id", "actor_token_id", "subject_id"],
        )


@jobs_app.command("list")
@handles_errors
def jobs_list(
    state: str | None = None,
    token: TokenOpt = None,
    limit: int = 50,
    cursor: str | None = None,
    as_json: JsonOpt = False,
) -> None:
    with acting(token) as (session, p, _):
        emit(
            job_services.list_jobs(session, p, state=state, limit=limit, cursor=cursor),
            as_json,
            ["id", "kind", "state", "attempts", "run_at", "last_error"],
        )


@handles_errors
def worker(
    until_idle: Annotated[
        bool, typer.Option(help="exit when no job is due (for scripts, cron and tests)")
    ] = False,
    max_jobs: Annotated[int | None, typer.Option(help="exit after this many jobs")] = None,
    worker_id: Annotated[
        str | None, typer.Option(help="lease owner name (default host:pid)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run background jobs from the database queue."""
    w = Worker(services(), worker_id=worker_id)
    w.install_signal_handlers()
    stats = w.run(until_idle=until_idle, max_jobs=max_jobs)
    if until_idle or max_jobs:
        emit(
            {
                "succeeded": stats.succeeded,
                "failed": stats.failed,
                "lost": stats.lost,
                "kinds": stats.kinds,
            },
            as_json,
        )


@handles_errors
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API (and, later, the web pages)."""
    import uvicorn  # measured: ~65 ms of every command's start, for this one command

    from clearinghouse.storage import migrate  # Alembic: ~140 ms, only for the commands that use it

    s = services()
    if migrate.current(s.db) != migrate.head(s.db):
        raise ConfigurationError(
            "the database schema is not current; run `clearinghouse db upgrade`",
            code="migrations_pending",
        )
    uvicorn.run(
        "clearinghouse.api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


@model.command("serve-local")
@handles_errors
def serve_local(
    port: Annotated[int, typer.Option()] = 8011,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="CLEARINGHOUSE_LOCAL_MODEL_API_KEY",
            help="key clients must send (env CLEARINGHOUSE_LOCAL_MODEL_API_KEY)",
        ),
    ] = None,
) -> None:
    """Serve SmolLM2-135M-Instruct on 127.0.0.1 with an OpenAI-compatible API (llama.cpp)."""
    argv = server_argv(port, api_key)
    err.print(f"serving {MODEL_ALIAS} on http://127.0.0.1:{port}/v1", highlight=False)
    os.execv(argv[0], argv)  # noqa: S606 - fixed argv, our own interpreter
