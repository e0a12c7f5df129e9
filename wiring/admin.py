"""The admin pages that need every app: the catalogue of the platform's emails, with a preview of
each, on the outbox's admin (staff)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template import TemplateDoesNotExist
from django.template.response import TemplateResponse
from django.urls import path

from ami.admin import OutboxMessageAdmin
from ami.models import OutboxMessage

from . import email_catalogue

admin.site.unregister(OutboxMessage)


@admin.register(OutboxMessage)
class OutboxWithCatalogueAdmin(OutboxMessageAdmin):
    # --- Catalogue of the platform's emails, with a preview of each (staff) ----------------------

    def get_urls(self):
        catalogue_urls = [
            path(
                "catalogue/",
                self.admin_site.admin_view(self.catalogue_view),
                name="ami_outboxmessage_catalogue",
            ),
            path(
                "catalogue/<str:event>/",
                self.admin_site.admin_view(self.catalogue_preview_view),
                name="ami_outboxmessage_catalogue_preview",
            ),
        ]
        return catalogue_urls + super().get_urls()

    def _catalogue_context(self, request, title):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
        }

    def catalogue_view(self, request):
        context = self._catalogue_context(request, "Catalogue des courriels")
        context["entries"] = email_catalogue.CATALOGUE
        return TemplateResponse(request, "admin/ami/outboxmessage/catalogue.html", context)

    def catalogue_preview_view(self, request, event):
        try:
            entry = email_catalogue.get(event)
        except KeyError:
            raise Http404("Courriel inconnu.") from None
        context = self._catalogue_context(request, f"Aperçu du courriel « {entry.event} »")
        try:
            subject, text, html = email_catalogue.render_sample(entry)
            missing = ""
        except TemplateDoesNotExist as error:
            subject, text, html, missing = "", "", "", str(error)
        context.update(
            entry=entry,
            subject=subject,
            text=text,
            html=html,
            missing=missing,
            templates=email_catalogue.template_names(entry),
        )
        return TemplateResponse(request, "admin/ami/outboxmessage/catalogue_preview.html", context)
