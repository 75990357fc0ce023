"""`clearinghouse admin|orgs|users|tokens|invitations`: accounts and the first bootstrap."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from clearinghouse.accounts.bootstrap import bootstrap as bootstrap_instance
from clearinghouse.accounts.invitations import (
    accept_invitation,
    create_invitation,
    list_invitations,
)
from clearinghouse.accounts.models import OrgKind, Role, Scope
from clearinghouse.accounts.orgs import create_org, get_org, list_orgs
from clearinghouse.accounts.schemas import (
    InvitationAccept,
    InvitationCreate,
    OrgCreate,
    TokenCreate,
    UserCreate,
)
from clearinghouse.accounts.tokens import issue_token, list_tokens, revoke_token
from clearinghouse.accounts.users import create_user, list_users
from clearinghouse.accounts.web_sessions import set_password
from clearinghouse.cli.common import (
    JsonOpt,
    TokenOpt,
    acting,
    emit,
    handles_errors,
    out,
    services,
)

orgs = typer.Typer(help="Organisations.", no_args_is_help=True)
users = typer.Typer(help="Users and their roles.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens.", no_args_is_help=True)
invitations = typer.Typer(
    help="Invitations: how people join an organisation.", no_args_is_help=True
)
admin = typer.Typer(help="Instance administration.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(admin, name="admin")
    app.add_typer(orgs, name="orgs")
    app.add_typer(users, name="users")
    app.add_typer(tokens, name="tokens")
    app.add_typer(invitations, name="invitations")


@admin.command("bootstrap")
@handles_errors
def bootstrap(
    org_name: Annotated[
        str, typer.Option(help="name of the coordinator organisation")
    ] = "Clearinghouse",
    email: Annotated[
        str, typer.Option(help="email of its first admin")
    ] = "admin@clearinghouse.local",
    as_json: JsonOpt = False,
) -> None:
    """Create the first coordinator organisation and its admin; print the admin token once."""
    s = services()
    with s.db.transaction() as session:
        result = bootstrap_instance(session, org_name=org_name, email=email)
    emit(result, as_json)


@orgs.command("create")
@handles_errors
def org_create(
    name: str,
    kind: Annotated[OrgKind, typer.Option()],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    with acting(token) as (session, p, _):
        emit(create_org(session, p, OrgCreate(name=name, kind=kind)), as_json)


@orgs.command("list")
@handles_errors
def org_list(
    token: TokenOpt = None, limit: int = 50, cursor: str | None = None, as_json: JsonOpt = False
) -> None:
    with acting(token) as (session, p, _):
        emit(
            list_orgs(session, p, limit=limit, cursor=cursor),
            as_json,
            ["id", "name", "kind", "created_at"],
        )


@orgs.command("show")
@handles_errors
def org_show(org_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    with acting(token) as (session, p, _):
        emit(get_org(session, p, org_id), as_json)


@users.command("create")
@handles_errors
def user_create(
    org_id: Annotated[str, typer.Option("--org")],
    email: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option()] = Role.member,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    with acting(token) as (session, p, _):
        emit(create_user(session, p, UserCreate(org_id=org_id, email=email, role=role)), as_json)


@users.command("set-password")
@handles_errors
def user_set_password(
    user_id: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    token: TokenOpt = None,
) -> None:
    """Set a web sign-in password (docs/web.md): one's own, or, as an organisation's admin, a
    member's. Prompted for (twice, hidden) unless --password-stdin."""
    with acting(token) as (session, p, _):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        set_password(session, p, user_id, password)
    out.print(f"password set for {user_id}")


@users.command("list")
@handles_errors
def user_list(
    token: TokenOpt = None, limit: int = 50, cursor: str | None = None, as_json: JsonOpt = False
) -> None:
    with acting(token) as (session, p, _):
        emit(
            list_users(session, p, limit=limit, cursor=cursor),
            as_json,
            ["id", "email", "org_id", "role"],
        )


@tokens.command("create")
@handles_errors
def token_create(
    user_id: Annotated[str, typer.Option("--user")],
    scope: Annotated[
        list[Scope] | None, typer.Option(help="repeat for several; default read and write")
    ] = None,
    expires_in_days: int = 90,
    description: str = "",
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a token for a user. The token is printed once."""
    body = TokenCreate(
        user_id=user_id,
        scopes=scope or [Scope.read, Scope.write],
        expires_in_days=expires_in_days,
        description=description,
    )
    with acting(token) as (session, p, _):
        emit(issue_token(session, p, body), as_json)


@tokens.command("list")
@handles_errors
def token_list(token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    with acting(token) as (session, p, _):
        emit(
            list_tokens(session, p),
            as_json,
            ["id", "hint", "scopes", "expires_at", "revoked_at"],
        )


@tokens.command("revoke")
@handles_errors
def token_revoke(token_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    with acting(token) as (session, p, _):
        emit(revoke_token(session, p, token_id), as_json)


@invitations.command("create")
@handles_errors
def invitation_create(
    org_id: Annotated[str, typer.Option("--org")],
    email: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option()] = Role.member,
    expires_in_days: int = 7,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Invite a person; the one-time code is printed once. A coordinator admin may invite only
    the first admin of a new organisation."""
    with acting(token) as (session, p, _):
        body = InvitationCreate(email=email, role=role, expires_in_days=expires_in_days)
        emit(create_invitation(session, p, org_id, body), as_json)


@invitations.command("list")
@handles_errors
def invitation_list(
    org_id: Annotated[str, typer.Option("--org")],
    token: TokenOpt = None,
    limit: int = 50,
    cursor: str | None = None,
    as_json: JsonOpt = False,
) -> None:
    with acting(token) as (session, p, _):
        emit(
            list_invitations(session, p, org_id, limit=limit, cursor=cursor),
            as_json,
            ["id", "email", "role", "expires_at", "accepted_at"],
        )


@invitations.command("accept")
@handles_errors
def invitation_accept(
    code: Annotated[
        str,
        typer.Option(
            envvar="CLEARINGHOUSE_INVITATION_CODE",
            prompt=True,
            hide_input=True,
            help="the one-time code (env CLEARINGHOUSE_INVITATION_CODE, or asked for)",
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Redeem an invitation: creates your user and prints your first token, once."""
    emit(accept_invitation(services().db, InvitationAccept(code=code)), as_json)
