"""What ProConnect's signed answers say, checked: the ID token and the userinfo JWT (signature
against the provider's JWKS, issuer, audience, expiry, nonce), and whether the provider asserted
a multi-factor authentication."""

import json

import jwt
from django.conf import settings

# Never ``none``: an unsigned answer is refused.
SIGNING_ALGORITHMS = ("RS256", "ES256", "PS256")


class ClaimsRefused(Exception):
    """Why ProConnect's answer is refused (French, shown to the user)."""


def _key(token: str, jwks: dict):
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise ClaimsRefused("La réponse de ProConnect n'est pas un jeton signé.") from error
    algorithm = header.get("alg")
    if algorithm not in SIGNING_ALGORITHMS:
        raise ClaimsRefused("La réponse de ProConnect n'est pas signée.")
    for jwk in jwks.get("keys", []):
        if jwk.get("kid") == header.get("kid") and jwk.get("use", "sig") == "sig":
            return algorithm, jwt.PyJWK.from_json(json.dumps(jwk), algorithm=algorithm).key
    raise ClaimsRefused("La réponse de ProConnect est signée d'une clé inconnue.")


def verify_signed(token: str, jwks: dict, *, issuer: str, audience: str, nonce=None) -> dict:
    """The claims of a JWT signed by one of the provider's keys, for us, not expired, with our
    nonce when one is given; else :class:`ClaimsRefused`."""
    algorithm, key = _key(token, jwks)
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            issuer=issuer,
            audience=audience,
            options={"require": ["iss", "aud"], "verify_exp": True},
            leeway=30,
        )
    except jwt.PyJWTError as error:
        raise ClaimsRefused("La signature de la réponse de ProConnect n'est pas valide.") from error
    if nonce is not None and claims.get("nonce") != nonce:
        raise ClaimsRefused("La réponse de ProConnect ne correspond pas à votre demande (nonce).")
    return claims


def asserted_mfa(id_token: dict) -> bool:
    """Did the provider assert a multi-factor authentication? An ``acr`` among
    ``PROCONNECT_MFA_ACR_VALUES`` (eidas2, eidas3) or ``mfa`` in ``amr``."""
    acr = id_token.get("acr")
    amr = id_token.get("amr") or []
    return acr in settings.PROCONNECT_MFA_ACR_VALUES or "mfa" in amr
