"""Words from data on the pages: a code reads as a word in English (`sme` -> SME) and as its Chinese in
Chinese; a known message (a refusal, a repair's reason, an invoice line as issued) is shown in the
reader's language with its own figures, codes among them translated and contract times shortened."""

from __future__ import annotations

import pytest

from backend.i18n import language
from backend.web.words import SHOWN, shown, translate


@pytest.mark.parametrize(
    ("code", "english", "chinese"),
    [
        ("sme", "SME", "中小企业"),
        ("platform_owner", "platform owner", "平台运营单位"),
        ("external_sme", "external SME", "外部中小企业"),
        ("checked_in", "in use", "使用中"),
        ("mon", "Monday", "周一"),
        ("optimal", "optimal", "最优解"),
        ("feasible", "feasible", "可行解（未证明最优）"),
        ("approved", "approved", "已批准"),
    ],
)
def test_a_code_reads_as_a_word_in_both_languages(code: str, english: str, chinese: str) -> None:
    with language("en"):
        assert shown(code) == english
    with language("zh"):
        assert shown(code) == chinese


def test_no_code_is_left_as_its_own_english_word() -> None:
    assert all(english != code for code, english in SHOWN.items())
    assert all("_" not in english for english in SHOWN.values())


@pytest.mark.parametrize(
    ("message", "chinese"),
    [
        (
            "F50-1 is out of service (fault) from 2027-09-21T09:00:00+08:00 to 2027-09-21T13:00:00+08:00",
            "F50-1 停用（故障），自 09-21 09:00 至 09-21 13:00",
        ),
        ("its slot on SD-1 went to Q12/s1, which had to move", "其在 SD-1 上的时段让给了必须调整的 Q12/s1"),
        ("it is checked_in; it cannot be moved", "该预约状态为使用中，不能移动"),
        (
            "booking 25, F50-1 2026-10-23 09:00–10-23 12:00, external_sme",
            "预约 25，F50-1 2026-10-23 09:00–10-23 12:00，外部中小企业",
        ),
        ("check digit is '2' but should be '1'", "校验位为 '2'，应为 '1'"),
        ("an organization with code 'qilu' exists already", "代码为 'qilu' 的单位已存在"),
        ("booking 7 does not exist", "预约 7 不存在"),
        ("use at least 5 different characters", "至少需要 5 个不同字符"),
        ("use at least 8 characters", "至少需要 8 个字符"),
    ],
)
def test_known_messages_are_shown_in_chinese_with_their_figures(message: str, chinese: str) -> None:
    with language("zh"):
        assert translate(message) == chinese
    with language("en"):
        assert translate(message).startswith(message.split(" ")[0])
