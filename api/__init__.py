"""The read API (/api/v1/): tokens that belong to a user, endpoints scoped exactly like the
screens (``Candidature.objects.visible_to``), its OpenAPI schema and documentation page."""
