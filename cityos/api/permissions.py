from rest_framework.permissions import BasePermission

from cityos.roles import Role, is_staff_role


class HasRole(BasePermission):
    """`permission_classes = [HasRole.of(Role.ADMINISTRATOR, Role.CITY_LEADER)]`"""

    roles: frozenset = frozenset()

    @classmethod
    def of(cls, *roles: Role) -> type["HasRole"]:
        return type(f"HasRole_{'_'.join(roles)}", (cls,), {"roles": frozenset(roles)})

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or user.role in self.roles))


class IsStaffRole(BasePermission):
    """Staff roles only (cityos.roles.is_staff_role): internal operations, never external developers."""

    message = "for the city's staff roles only"

    def has_permission(self, request, view) -> bool:
        return is_staff_role(request.user)
