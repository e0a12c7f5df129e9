"""Test-only wiring referenced by ``ami.settings.test``."""

import sys

from django.conf import settings


class InvalidTemplateVariable(str):
    """``string_if_invalid`` that fails the render when one of *our* templates uses an undefined
    variable. Templates of installed packages (admin, allauth, dsfr) are left alone."""

    def __new__(cls):
        return super().__new__(cls, "%s")

    def __mod__(self, variable):
        origin = _rendering_template_origin()
        if origin and _is_project_template(origin):
            raise NameError(f"Undefined template variable '{variable}' in {origin}")
        return ""


def _rendering_template_origin() -> str | None:
    frame = sys._getframe(2)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        origin = getattr(candidate, "origin", None)
        name = getattr(origin, "name", None)
        if isinstance(name, str):
            return name
        frame = frame.f_back
    return None


def _is_project_template(path: str) -> bool:
    base = str(settings.BASE_DIR)
    return path.startswith(base) and "site-packages" not in path and "/.venv/" not in path
