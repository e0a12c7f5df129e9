"""Accent-insensitive commune search: the ``unaccent`` and ``pg_trgm`` extensions (contrib, shipped
with PostgreSQL 15 of CI and the embedded PostgreSQL 18), the IMMUTABLE ``ami_search_name`` (an
index may only use immutable functions; ``unaccent`` with its implicit dictionary is only
stable, so the dictionary is named) and a GIN trigram index on the communes' search name."""

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations

import ami.models

CREATE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION ami_search_name(text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT btrim(regexp_replace(
        lower(public.unaccent('public.unaccent'::regdictionary, $1)), '[^a-z0-9]+', ' ', 'g'
    ))
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ami", "0011_frozen_once_open"),
    ]

    operations = [
        UnaccentExtension(),
        TrigramExtension(),
        migrations.RunSQL(CREATE_FUNCTION, "DROP FUNCTION IF EXISTS ami_search_name(text);"),
        migrations.AddIndex(
            model_name="commune",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    ami.models.SearchName("name"), name="gin_trgm_ops"
                ),
                name="ami_commune_search_trgm",
            ),
        ),
    ]
