"""Reference models: the only models besides a submission that an eval run may target.

A coordinator registers one (name, `openai-api/<service>/<model>` spec, base URL, key); the key
is sealed in the vault like a submission's and revealed only inside the worker, audited. Runs
and judges name a reference model; a raw model spec or URL from a caller is refused, because
the worker would otherwise send its own provider keys wherever the caller pointed it.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_page
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page
from clearinghouse.evals.errors import ReferenceModelExists
from clearinghouse.evals.models import ReferenceModel
from clearinghouse.evals.schemas import ReferenceModelCreate, ReferenceModelOut
from clearinghouse.reviews import access
from clearinghouse.reviews.errors import EndpointRefused
from clearinghouse.storage.vault import Vault

T = TypeVar("T")


def target(rm: ReferenceModel | None = None, ref: str = "") -> Target:
    return Target("reference_model", id=rm.id if rm else ref)


def reference_model_out(rm: ReferenceModel) -> ReferenceModelOut:
    return ReferenceModelOut(
        id=rm.id,
        name=rm.name,
        model=rm.model_spec,
        base_url=rm.base_url,
        api_key_hint=rm.api_key_hint,
        api_key_set=rm.api_key_sealed_id is not None,
        created_at=rm.created_at,
    )


def create_reference_model(
    session: Session,
    p: Principal,
    vault: Vault,
    data: ReferenceModelCreate,
    *,
    allow_private: bool,
) -> ReferenceModelOut:
    authorize(p, Action.reference_model_create)
    # The lab endpoint rules: no credentials in the URL, public https unless the deployment
    # allows private endpoints.
    try:
        base_url = access.validate_endpoint_url(data.base_url, allow_private=allow_private)
        urlsplit(base_url).port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:  # urlsplit: a malformed IPv6 host or port
        raise EndpointRefused("base_url is not a valid URL") from exc
    if session.scalar(select(ReferenceModel.id).where(ReferenceModel.name == data.name)):
        raise ReferenceModelExists(f"a reference model named {data.name!r} already exists")
    rm = ReferenceModel(
        id=new_id("rm"),
        name=data.name,
        model_spec=data.model,
        base_url=base_url,
        created_by_user_id=p.user_id,
        created_at=utcnow(),
    )
    if data.api_key is not None:
        sealed = vault.seal_text(
            session,
            data.api_key.get_secret_value(),
            purpose="reference_model:api_key",
            show_hint=True,
        )
        rm.api_key_sealed_id, rm.api_key_hint = sealed.id, sealed.hint
    session.add(rm)
    try:  # two registrations racing past the check above: one of them is a conflict
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ReferenceModelExists(f"a reference model named {data.name!r} already exists") from exc
    audit.record(
        session,
        AuditTag.EVALS_REFERENCE_MODEL_CREATE,
        actor=p.actor,
        subject_type="reference_model",
        subject_id=rm.id,
        data={
            "name": rm.name,
            "model": rm.model_spec,
            "base_url": rm.base_url,
            "authenticated": rm.api_key_sealed_id is not None,
        },
    )
    return reference_model_out(rm)


def resolve(session: Session, p: Principal, ref: str) -> ReferenceModel:
    """A reference model by id or name, if the caller may see it (else NotFound, like an
    unknown one)."""
    rm = session.scalars(
        select(ReferenceModel)
        .where(or_(ReferenceModel.id == ref, ReferenceModel.name == ref))
        .order_by((ReferenceModel.id == ref).desc())
    ).first()
    if rm is None:
        raise NotFound(f"no reference model {ref!r}", code="reference_model_unknown")
    authorize(p, Action.reference_model_read, target(rm))
    return rm


def get_reference_model(session: Session, p: Principal, ref: str) -> ReferenceModelOut:
    return reference_model_out(resolve(session, p, ref))


def list_reference_models(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[ReferenceModelOut]:
    return scoped_page(
        session,
        p,
        "reference_model",
        ReferenceModel,
        reference_model_out,
        limit=limit,
        cursor=cursor,
    )


def reveal_api_key(
    session: Session, p: Principal, vault: Vault, rm: ReferenceModel, purpose: str
) -> str | None:
    """Decrypt the reference model's key at the moment of use, and audit that it was read.
    None when it was registered without one."""
    if rm.api_key_sealed_id is None:
        return None
    key = vault.reveal_text(session, rm.api_key_sealed_id)
    audit.record(
        session,
        AuditTag.EVALS_REFERENCE_MODEL_SECRET_REVEAL,
        actor=p.actor,
        subject_type="reference_model",
        subject_id=rm.id,
        data={"purpose": purpose},
    )
    return key
