"""Credit codes, catalog filters, access rules and settings."""

from __future__ import annotations

import pytest

from backend.domain.access import (
    Principal,
    Role,
    can_manage_platform,
    can_see_organization,
    check_membership,
    ensure_manages_platform,
)
from backend.domain.catalog import normalize_tags, parse_attribute_filter
from backend.domain.credit_code import check_credit_code
from backend.domain.errors import AccessDenied
from backend.settings import DEMO_SECRET_KEY, Settings


def test_real_credit_code_passes_and_typos_are_caught() -> None:
    assert check_credit_code("91110000600037341l") == "91110000600037341L"
    with pytest.raises(ValueError, match="check digit"):
        check_credit_code("91110000600037341M")
    with pytest.raises(ValueError, match="18 characters"):
        check_credit_code("9111000060003734")
    with pytest.raises(ValueError, match="'I'"):
        check_credit_code("91110000600037341I")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("volume_l:10..100", (10.0, 100.0, None)),
        ("volume_l:10..", (10.0, None, None)),
        ("volume_l:..100", (None, 100.0, None)),
        ("grade:D", (None, None, "D")),
    ],
)
def test_attribute_filters(text: str, expected: tuple) -> None:
    f = parse_attribute_filter(text)
    assert (f.low, f.high, f.equals) == expected


@pytest.mark.parametrize("text", ["volume_l", "volume_l:..", "volume_l:a..b", "volume_l:9..1", "Volume:1"])
def test_bad_attribute_filters_are_explained(text: str) -> None:
    with pytest.raises(ValueError, match=r"attr"):
        parse_attribute_filter(text)


def test_tags_are_normalized_and_checked() -> None:
    assert normalize_tags(["Spray-Drying", "spray-drying ", "hplc"]) == ["hplc", "spray-drying"]
    with pytest.raises(ValueError, match="lower-case tag"):
        normalize_tags(["two words"])


def test_operator_manages_only_their_platform_and_auditor_writes_nothing() -> None:
    operator = Principal(1, Role.operator, platform_id=7)
    assert can_manage_platform(operator, 7) and not can_manage_platform(operator, 8)
    with pytest.raises(AccessDenied):
        ensure_manages_platform(operator, 8)
    with pytest.raises(AccessDenied, match="read-only"):
        ensure_manages_platform(Principal(2, Role.auditor), 7)
    assert can_manage_platform(Principal(3, Role.admin), 8)


def test_sme_sees_only_its_own_organization() -> None:
    sme = Principal(1, Role.sme, organization_id=5)
    assert can_see_organization(sme, 5) and not can_see_organization(sme, 6)
    assert not can_see_organization(sme, None)
    assert can_see_organization(Principal(2, Role.auditor), 6)


def test_membership_rules() -> None:
    assert check_membership(Role.operator, None, None) == "platform_id: an operator belongs to one platform"
    assert check_membership(Role.sme, None, None).startswith("organization_id")
    assert check_membership(Role.auditor, None, 3).startswith("platform_id")
    assert check_membership(Role.sme, 4, None) is None


def test_default_secret_is_refused_outside_demo_mode() -> None:
    with pytest.raises(RuntimeError, match="published demo key"):
        Settings(secret_key=DEMO_SECRET_KEY, demo_mode=False).check_secret()
    Settings(secret_key=DEMO_SECRET_KEY, demo_mode=True).check_secret()
    with pytest.raises(RuntimeError, match="at least 32"):
        Settings(secret_key="short", demo_mode=False).check_secret()


def test_bad_settings_name_the_setting() -> None:
    with pytest.raises(ValueError, match="database_url"):
        Settings(database_url="mysql://x")
    with pytest.raises(ValueError, match="log_level"):
        Settings(log_level="LOUD")


def test_webhook_targets_must_be_public_unless_allowed() -> None:
    from backend.services.notifications.webhooks import target_problem

    for url in (
        "http://127.0.0.1:8000/x",
        "http://localhost/x",
        "https://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9000/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.64.0.1/",
    ):
        assert "internal address" in (target_problem(url) or ""), url
        assert target_problem(url, allow_private=True) is None
    assert target_problem("https://8.8.8.8/hook") is None
    assert "cannot resolve" in (target_problem("https://no-such-host.invalid/hook") or "")
