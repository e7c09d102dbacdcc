"""Factories: small functions that build valid objects with unique defaults."""

import itertools

from django.contrib.auth import get_user_model

from cityos.roles import Role
from datahub.models import Department

_seq = itertools.count(1)
PASSWORD = "s3cret-pass!"


def make_department(*, parent=None, kind="bureau", **kw) -> Department:
    n = next(_seq)
    return Department.objects.create(
        code=kw.pop("code", f"dept-{n}"), name=kw.pop("name", f"部门{n}"), kind=kind, parent=parent, **kw
    )


def make_user(*, role=Role.DEPARTMENT_OFFICER, department=None, password=PASSWORD, **kw):
    n = next(_seq)
    user = get_user_model()(username=kw.pop("username", f"user{n}"), role=role, department=department, **kw)
    user.set_password(password)
    user.save()
    return user
