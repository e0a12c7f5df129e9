"""ProConnect, the State agents' identity federation (OpenID Connect), as a django-allauth
provider: allauth's ``openid_connect`` provider plus what ProConnect adds — the userinfo answered
as a signed JWT (``application/jwt``) checked against the provider's keys, the ``siret``,
``given_name`` and ``usual_name`` claims, ``acr_values=eidas1``, a nonce, PKCE, and the logout at
the provider with ``id_token_hint``. Configured from the environment (``PROCONNECT_*``), off when
unset (docs/operations.md « ProConnect »)."""
