"""Industry factories: enterprises with valid USCCs (check digit by python-stdnum), policies."""

import itertools

from stdnum.cn import uscc as stdnum_uscc

from industry.models import Enterprise, EnterpriseMember, Policy
from industry.services.policies import policy_save
from industry.services.registry import enterprise_register

_seq = itertools.count(1)


def make_uscc(n: int | None = None) -> str:
    """A valid 18-character USCC: 9 (industry & commerce) 1 (enterprise) 330100 (region) + 9-char
    organisation code + check digit."""
    n = next(_seq) + 500_000 if n is None else n
    body = f"91330100{n:09d}"[:17]
    return body + stdnum_uscc.calc_check_digit(body)


def make_enterprise(**kw) -> Enterprise:
    n = next(_seq)
    kw.setdefault("name", f"测试企业{n}有限公司")
    kw.setdefault("uscc", make_uscc())
    return enterprise_register(**kw)


def make_policy(*, criteria, **kw) -> Policy:
    n = next(_seq)
    kw.setdefault("code", f"policy-{n}")
    kw.setdefault("title", f"政策{n}")
    kw.setdefault("status", "active")
    return policy_save(criteria=criteria, **kw)


def make_member(enterprise, user) -> None:
    EnterpriseMember.objects.get_or_create(enterprise=enterprise, user=user)
