"""The developer portal's writes: sign-up with e-mail verification, applications, keys.

An external developer signs up with their organisation; the account stays inactive until the
link e-mailed to them is opened (a signed, time-limited token); the organisation's keys work
only after an administrator approves it (Django admin, "Approve the selected organisations").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from cityos.api import keys
from cityos.models import ApiApplication, ApiPlan, DeveloperOrganisation
from cityos.roles import Role

VERIFY_SALT = "cityos.developers.verify"
VERIFY_MAX_AGE_S = 3 * 86400
DEFAULT_PLAN = "free"


class PortalError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Signup:
    user_id: int
    organisation_id: int


def developer_signup(
    *, username: str, email: str, password: str, organisation: str, website: str = "", base_url: str
) -> Signup:
    """An inactive developer account and its (unapproved) organisation; the verification e-mail
    goes out after commit."""
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise PortalError("username", _("This user name is taken."))
    if User.objects.filter(email__iexact=email).exists():
        raise PortalError("email", _("An account with this e-mail address exists."))
    if DeveloperOrganisation.objects.filter(name__iexact=organisation).exists():
        raise PortalError("organisation", _("An organisation with this name is registered already."))
    try:
        with transaction.atomic():
            user = User(username=username, email=email, role=Role.EXTERNAL_DEVELOPER, is_active=False)
            user.set_password(password)
            user.save()
            org = DeveloperOrganisation.objects.create(name=organisation, contact_email=email, website=website)
            org.members.add(user)
    except IntegrityError:
        raise PortalError("username", _("This user name is taken.")) from None
    token = signing.dumps({"u": user.id, "e": email}, salt=VERIFY_SALT)
    link = base_url.rstrip("/") + reverse("developers:verify", args=[token])
    transaction.on_commit(
        lambda: send_mail(
            _("Confirm your CityOS developer account"),
            _("Open this link to confirm your e-mail address (valid for 3 days):\n\n%(link)s\n") % {"link": link},
            settings.DEFAULT_FROM_EMAIL,
            [email],
        )
    )
    return Signup(user_id=user.id, organisation_id=org.id)


def developer_verify(*, token: str):
    """Activate the account the token names; the user, or PortalError for a bad or stale link."""
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE_S)
    except signing.SignatureExpired:
        raise PortalError("token", _("This link has expired: sign up again.")) from None
    except signing.BadSignature:
        raise PortalError("token", _("This link is not valid.")) from None
    user = get_user_model().objects.filter(id=data.get("u"), email=data.get("e")).first()
    if user is None:
        raise PortalError("token", _("This link is not valid."))
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def organisations_of(user):
    if user.is_superuser or user.role == Role.ADMINISTRATOR:
        return DeveloperOrganisation.objects.all()
    return DeveloperOrganisation.objects.filter(members=user)


def applications_of(user):
    """The one rule for the portal: a developer sees the applications of their organisations."""
    return ApiApplication.objects.filter(organisation__in=organisations_of(user)).select_related("organisation", "plan")


def application_create(
    *, user, organisation: DeveloperOrganisation, name: str, description: str = ""
) -> ApiApplication:
    if not organisations_of(user).filter(id=organisation.id).exists():
        raise PortalError("organisation", _("Not your organisation."))
    name = name.strip()
    if not name:
        raise PortalError("name", _("Give the application a name."))
    if ApiApplication.objects.filter(organisation=organisation, name=name).exists():
        raise PortalError("name", _("Your organisation has an application with this name."))
    plan = ApiPlan.objects.filter(name=DEFAULT_PLAN).first() or ApiPlan.objects.order_by("per_day").first()
    if plan is None:
        plan = ApiPlan.objects.create(name=DEFAULT_PLAN, per_second=5, per_minute=60, per_day=10_000)
    return ApiApplication.objects.create(
        organisation=organisation, owner=user, name=name, description=description, plan=plan
    )


def key_issue(*, user, application: ApiApplication, name: str, scopes: list[str], expires_at=None):
    """(key, full text shown once)."""
    if not applications_of(user).filter(id=application.id).exists():
        raise PortalError("application", _("Not your application."))
    if not name.strip():
        raise PortalError("name", _("Give the key a name."))
    if not scopes:
        raise PortalError("scopes", _("Choose at least one scope."))
    try:
        return keys.api_key_create(
            application=application, name=name.strip(), scopes=scopes, expires_at=expires_at, created_by=user
        )
    except ValueError as e:
        raise PortalError("scopes", str(e)) from None
