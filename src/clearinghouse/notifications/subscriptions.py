"""An organisation's e-mail subscriptions (immediate, or batched into its digest)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_page
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page
from clearinghouse.notifications.models import Subscription
from clearinghouse.notifications.schemas import SubscriptionCreate, SubscriptionOut


def create_subscription(
    session: Session, p: Principal, body: SubscriptionCreate
) -> SubscriptionOut:
    if p.org_id is None:
        raise InvalidInput(
            "subscriptions belong to an organisation: act with a token", code="org_required"
        )
    authorize(p, Action.subscription_manage, Target("subscription", org_id=p.org_id))
    sub = Subscription(
        id=new_id("nsub"),
        org_id=p.org_id,
        email=body.email,
        events=list(body.events),
        purl_prefixes=list(body.purl_prefixes),
        min_severity=body.min_severity.value if body.min_severity else None,
        digest=body.digest,
        active=True,
        last_digest_at=None,
        created_at=utcnow(),
    )
    session.add(sub)
    session.flush()
    audit.record(
        session,
        AuditTag.NOTIFICATIONS_SUBSCRIPTION_CREATE,
        actor=p.actor,
        subject_type="subscription",
        subject_id=sub.id,
        data={"events": sub.events, "digest": sub.digest},
    )
    return SubscriptionOut.model_validate(sub)


def list_subscriptions(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[SubscriptionOut]:
    return scoped_page(
        session,
        p,
        "subscription",
        Subscription,
        SubscriptionOut.model_validate,
        limit=limit,
        cursor=cursor,
        where=[Subscription.active.is_(True)],
    )


def delete_subscription(session: Session, p: Principal, subscription_id: str) -> None:
    sub = session.get(Subscription, subscription_id)
    if sub is None or not sub.active:
        raise NotFound(f"no subscription with id {subscription_id!r}")
    authorize(p, Action.subscription_manage, Target("subscription", id=sub.id, org_id=sub.org_id))
    sub.active = False
    audit.record(
        session,
        AuditTag.NOTIFICATIONS_SUBSCRIPTION_DELETE,
        actor=p.actor,
        subject_type="subscription",
        subject_id=sub.id,
    )
