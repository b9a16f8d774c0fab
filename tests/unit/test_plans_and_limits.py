import pytest

from kirem.meta.signatures import sign, verify
from kirem.ratelimit import RateLimiter
from kirem.tenancy.plans import PLANS, limits_for, plan_lifting


def test_developer_plan_matches_the_price_list() -> None:
    dev = PLANS["developer"]
    assert (
        dev.channels,
        dev.outbound_per_day,
        dev.retention_days,
        dev.webhook_targets,
        dev.routing_rules,
    ) == (
        1,
        20,
        7,
        1,
        0,
    )
    assert not dev.analytics_api


@pytest.mark.parametrize(
    ("feature", "needed", "plan"),
    [
        ("analytics_api", True, "growth"),
        ("outbound_per_day", 21, "growth"),
        ("channels", 2, "growth"),
        ("webhook_targets", 6, "scale"),
        ("customer_setup_links", True, "scale"),
        ("dedicated_mcp", True, "enterprise"),
        ("sla_thresholds", True, "enterprise"),
        ("dedicated_outbound_ip", True, "scale"),
    ],
)
def test_plan_lifting_names_the_cheapest_plan(feature: str, needed: int | bool, plan: str) -> None:
    assert plan_lifting(feature, needed) == plan


def test_operator_overrides_apply_per_account_and_ignore_unknown_keys() -> None:
    limits = limits_for("developer", {"outbound_per_day": 100, "bogus": 1})
    assert limits.outbound_per_day == 100
    assert limits.channels == 1


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.acquire("k") == 0
    assert limiter.acquire("k") == 0
    wait = limiter.acquire("k")
    assert wait == pytest.approx(0.5)
    assert limiter.acquire("other") == 0
    now[0] = 0.5
    assert limiter.acquire("k") == 0
    assert RateLimiter.retry_after_header(0.01) == "1"


def test_meta_signature_verifies_in_constant_time_over_raw_bytes() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    header = sign("app-secret", body)
    assert verify(["other", "app-secret"], body, header)
    assert not verify(["app-secret"], body + b" ", header)
    assert not verify(["app-secret"], body, None)
    assert not verify(["app-secret"], body, "sha1=abc")
