"""ProConnect's part of « Mes données » (accounts.personal_data): the links between the account
and an identity at the provider — which provider, the agent's identifier there (``sub``), when
the link was made, the last login through it, and what the provider sent at that login. Deleting
the account deletes the links: a later ProConnect login of the same agent then starts afresh
instead of reaching the anonymised account."""

from allauth.socialaccount.models import SocialAccount

from ..personal_data import Contribution
from .views import PROVIDER_ID

PROVIDER_NAMES = {PROVIDER_ID: "ProConnect"}


def export(user, archive) -> list[dict]:
    return [
        {
            "fournisseur": PROVIDER_NAMES.get(link.provider, link.provider),
            "identifiant_chez_le_fournisseur": link.uid,
            "associe_le": link.date_joined,
            "derniere_connexion": link.last_login,
            "informations_transmises_a_la_derniere_connexion": link.extra_data,
        }
        for link in SocialAccount.objects.filter(user=user).order_by("date_joined", "pk")
    ]


def erase(user, actor, *, withdraw: bool = False) -> dict:
    _, deleted = SocialAccount.objects.filter(user=user).delete()
    return {"connexions_supprimees": deleted.get(SocialAccount._meta.label, 0)}


CONTRIBUTION = Contribution(name="connexions_proconnect", export=export, erase=erase)
