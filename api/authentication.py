"""``Authorization: Bearer amiptce_…``: the token's user, or 401 with the reason in French."""

from rest_framework import authentication, exceptions

from .tokens import TokenError, find_token

KEYWORDS = ("bearer", "token")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header:
            return None
        if len(header) != 2 or header[0].lower() not in KEYWORDS:
            raise exceptions.AuthenticationFailed(
                "En-tête Authorization mal formé : attendu « Bearer <jeton> »."
            )
        try:
            token = find_token(header[1])
        except TokenError as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
