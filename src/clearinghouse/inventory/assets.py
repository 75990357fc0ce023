"""An operator's assets: register (an operator for itself, a coordinator on an operator's
behalf), list, show. Policy-checked, audited."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_page
from clearinghouse.accounts.models import Org, OrgKind
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page
from clearinghouse.inventory.models import Asset
from clearinghouse.inventory.schemas import AssetCreate, AssetOut


def target(asset: Asset) -> Target:
    return Target("asset", id=asset.id, org_id=asset.org_id)


def load(session: Session, p: Principal, asset_id: str, action: Action) -> Asset:
    """The asset, if `p` may do `action` to it; an unknown one and one it may not see alike
    answer 404."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(f"no asset with id {asset_id!r}")
    authorize(p, action, target(asset))
    return asset


def create_asset(session: Session, p: Principal, body: AssetCreate) -> AssetOut:
    org = session.get(Org, body.org_id)
    if org is None:
        raise NotFound(f"no org with id {body.org_id!r}")
    authorize(p, Action.asset_create, Target("org", id=org.id, org_id=org.id))
    if org.kind != OrgKind.operator:
        raise InvalidInput(
            "assets belong to an operator organisation", code="asset_org_not_operator"
        )
    asset = Asset(
        id=new_id("ast"),
        org_id=org.id,
        name=body.name,
        sector=body.sector.value,
        criticality=body.criticality.value,
        owner_contact=body.owner_contact,
        exposure=body.exposure.value if body.exposure else None,
        mission_impact=body.mission_impact.value if body.mission_impact else None,
        wellbeing_impact=body.wellbeing_impact.value if body.wellbeing_impact else None,
        created_at=utcnow(),
        created_by=p.user_id,
    )
    session.add(asset)
    session.flush()
    audit.record(
        session,
        AuditTag.INVENTORY_ASSET_CREATE,
        actor=p.actor,
        subject_type="asset",
        subject_id=asset.id,
        # a coordinator registering it for an operator: whose it is, in the event itself
        data={"org_id": org.id, "name": asset.name, "on_behalf": p.org_id != org.id},
    )
    return AssetOut.model_validate(asset)


def list_assets(
    session: Session,
    p: Principal,
    *,
    org_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[AssetOut]:
    return scoped_page(
        session,
        p,
        "asset",
        Asset,
        AssetOut.model_validate,
        limit=limit,
        cursor=cursor,
        where=[Asset.org_id == org_id] if org_id else [],
    )


def get_asset(session: Session, p: Principal, asset_id: str) -> AssetOut:
    return AssetOut.model_validate(load(session, p, asset_id, Action.asset_read))
