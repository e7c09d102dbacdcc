from rest_framework.permissions import BasePermission

from cityos.roles import Role


class HasRole(BasePermission):
    """`permission_classes = [HasRole.of(Role.ADMINISTRATOR, Role.CITY_LEADER)]`"""

    roles: frozenset = frozenset()

    @classmethod
    def of(cls, *roles: Role) -> type["HasRole"]:
        return type(f"HasRole_{'_'.join(roles)}", (cls,), {"roles": frozenset(roles)})

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_superuser or user.role in self.roles))
