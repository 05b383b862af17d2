"""Who may resolve a field: ``IsMember`` (a valid token) and ``IsAdmin`` (and the admin role).

Each raises the core's own error, so the response's ``extensions.code`` is UNAUTHENTICATED or
FORBIDDEN with the reason (an expired token says so), exactly as a failed check in the resolver
would; the field is then null and the error bubbles to the nearest nullable parent.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.permission import BasePermission

from resolvers.context import Context


class IsMember(BasePermission):
    message = "authentication required"

    def has_permission(self, source: Any, info: strawberry.Info[Context, None], **_: Any) -> bool:
        info.context.member()
        return True


class IsAdmin(BasePermission):
    message = "the admin role is required"

    def has_permission(self, source: Any, info: strawberry.Info[Context, None], **_: Any) -> bool:
        info.context.admin()
        return True
