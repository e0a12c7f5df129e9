"""Company lookup by SIRET in the public « API Recherche d'entreprises » (no key needed), to offer
prefilling a PTCE's or a member's identity. The service may be slow or down: callers get
``CompanyLookupUnavailable`` after a short timeout and fall back to entry by hand.

``http_get`` is the only network access; tests replace it with recorded responses."""

import json
import logging
from dataclasses import dataclass
from http.client import HTTPException
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from django.conf import settings
from django.core.cache import cache

from ami.identifiers import is_valid_siret, normalize_siret
from ami.models import Commune

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 2 * 1024 * 1024

UNAVAILABLE_MESSAGE = (
    "Le service de recherche d'entreprises ne répond pas pour le moment : saisissez les "
    "informations à la main."
)

# INSEE « catégories juridiques » (level III) most met among PTCEs and their members. SCIC have no
# code of their own: they appear under their company form (SAS 5710, SARL 5499/5460, SA …).
LEGAL_FORMS = {
    "1000": "Entrepreneur individuel",
    "5202": "Société en nom collectif",
    "5306": "Société en commandite simple",
    "5458": "SARL coopérative ouvrière de production (SCOP)",
    "5459": "SARL union de sociétés coopératives",
    "5460": "Autre SARL coopérative",
    "5485": "Société d'exercice libéral à responsabilité limitée",
    "5498": "SARL unipersonnelle",
    "5499": "Société à responsabilité limitée (SARL)",
    "5515": "SA d'économie mixte à conseil d'administration",
    "5558": "SA coopérative ouvrière de production (SCOP) à conseil d'administration",
    "5559": "SA union de sociétés coopératives à conseil d'administration",
    "5560": "Autre SA coopérative à conseil d'administration",
    "5599": "SA à conseil d'administration",
    "5615": "SA d'économie mixte à directoire",
    "5658": "SA coopérative ouvrière de production (SCOP) à directoire",
    "5660": "Autre SA coopérative à directoire",
    "5699": "SA à directoire",
    "5710": "Société par actions simplifiée (SAS)",
    "5720": "Société par actions simplifiée unipersonnelle (SASU)",
    "5800": "Société européenne",
    "6210": "Groupement européen d'intérêt économique (GEIE)",
    "6220": "Groupement d'intérêt économique (GIE)",
    "6316": "Coopérative d'utilisation de matériel agricole en commun (CUMA)",
    "6317": "Société coopérative agricole",
    "6318": "Union de sociétés coopératives agricoles",
    "6540": "Société civile immobilière",
    "6599": "Autre société civile",
    "7210": "Commune et commune nouvelle",
    "7220": "Département",
    "7230": "Région",
    "7343": "Communauté urbaine",
    "7344": "Métropole",
    "7346": "Communauté de communes",
    "7348": "Communauté d'agglomération",
    "7353": "Syndicat mixte ouvert",
    "7354": "Syndicat mixte fermé",
    "7383": "Établissement public national à caractère scientifique, culturel et professionnel",
    "7490": "Autre personne morale de droit administratif",
    "8210": "Mutuelle",
    "9210": "Association non déclarée",
    "9220": "Association déclarée",
    "9221": "Association déclarée d'insertion par l'économique",
    "9222": "Association intermédiaire",
    "9223": "Groupement d'employeurs",
    "9230": "Association déclarée, reconnue d'utilité publique",
    "9260": "Association de droit local (Bas-Rhin, Haut-Rhin et Moselle)",
    "9300": "Fondation",
    "9900": "Autre personne morale de droit privé",
}


class CompanyLookupUnavailable(Exception):
    """The service did not answer in time, answered with an error or with something unreadable."""


@dataclass(frozen=True)
class CompanyInfo:
    siret: str
    siren: str
    name: str
    legal_form: str  # French label
    legal_form_code: str  # INSEE code, e.g. "9220"
    naf_code: str  # e.g. "88.99B"
    address: str  # street part only
    postal_code: str
    commune_code: str  # INSEE code of the establishment's commune
    commune_name: str
    commune: Commune | None  # the commune in our referential, when present
    is_head_office: bool
    is_closed: bool

    @property
    def form_values(self) -> dict[str, str]:
        """Values for the PTCE form's fields."""
        return {
            "siret": self.siret,
            "name": self.name,
            "legal_form": self.legal_form,
            "naf_code": self.naf_code,
            "address": self.address,
            "postal_code": self.postal_code,
            "seat_commune": self.commune.code if self.commune else "",
        }


def legal_form_label(code: str) -> str:
    code = (code or "").strip()
    if not code:
        return ""
    return LEGAL_FORMS.get(code, f"Catégorie juridique {code}")


CACHE_SECONDS = 24 * 3600


def http_get(url: str, timeout: float) -> bytes:
    """GET ``url`` and return its body (the only network access of this module)."""
    if not url.startswith(("https://", "http://")):
        raise CompanyLookupUnavailable(f"Adresse du service invalide : {url}")
    request = Request(  # noqa: S310 - scheme checked above
        url, headers={"Accept": "application/json", "User-Agent": "AMI-PTCE"}
    )
    with urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
        return response.read(MAX_RESPONSE_BYTES)


def lookup_siret(siret: str) -> CompanyInfo | None:
    """The company and establishment of a SIRET, or None when the directory does not know it.

    Raises ``ValueError`` for a SIRET that is not valid (check it first) and
    ``CompanyLookupUnavailable`` when the service cannot be used right now."""
    siret = normalize_siret(siret)
    if not is_valid_siret(siret):
        raise ValueError(f"SIRET invalide : {siret!r}")
    cache_key = f"company-lookup:{siret}"
    body = cache.get(cache_key)
    if body is not None:  # the directory changes slowly; spare it repeated lookups
        return parse_search_response(json.loads(body), siret)
    url = f"{settings.COMPANY_LOOKUP_URL}?{urlencode({'q': siret})}"
    try:
        body = http_get(url, settings.COMPANY_LOOKUP_TIMEOUT)
    except CompanyLookupUnavailable:
        raise
    except (OSError, HTTPException, ValueError) as error:  # timeouts, refused, HTTP 4xx/5xx
        logger.warning("Company lookup of %s failed: %s", siret, error)
        raise CompanyLookupUnavailable(str(error)) from error
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        logger.warning("Company lookup of %s: unreadable answer: %s", siret, error)
        raise CompanyLookupUnavailable("réponse illisible") from error
    cache.set(cache_key, body, CACHE_SECONDS)
    return parse_search_response(data, siret)


def parse_search_response(data, siret: str) -> CompanyInfo | None:
    """The ``CompanyInfo`` of ``siret`` in a ``/search`` answer, None when it is not there."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise CompanyLookupUnavailable("réponse inattendue")
    siren = siret[:9]
    result = next(
        (r for r in data["results"] if isinstance(r, dict) and r.get("siren") == siren), None
    )
    if result is None:
        return None
    establishment = _establishment(result, siret)
    commune_code = _text(establishment.get("commune"))
    code = _text(result.get("nature_juridique"))
    return CompanyInfo(
        siret=siret,
        siren=siren,
        name=_text(result.get("nom_raison_sociale")) or _text(result.get("nom_complet")),
        legal_form=legal_form_label(code),
        legal_form_code=code,
        naf_code=_text(establishment.get("activite_principale"))
        or _text(result.get("activite_principale")),
        address=_street(establishment),
        postal_code=_text(establishment.get("code_postal")),
        commune_code=commune_code,
        commune_name=_text(establishment.get("libelle_commune")),
        commune=Commune.objects.filter(pk=commune_code).first() if commune_code else None,
        is_head_office=bool(establishment.get("est_siege")),
        is_closed=_text(establishment.get("etat_administratif")) == "F"
        or _text(result.get("etat_administratif")) == "C",
    )


def _establishment(result: dict, siret: str) -> dict:
    """The establishment of the SIRET: among the matching ones, else the head office."""
    candidates = [e for e in result.get("matching_etablissements") or [] if isinstance(e, dict)]
    siege = result.get("siege") if isinstance(result.get("siege"), dict) else {}
    for establishment in [*candidates, siege]:
        if establishment.get("siret") == siret:
            return establishment
    return siege


def _street(establishment: dict) -> str:
    """The address without its trailing postal code and city (kept in their own fields)."""
    address = _text(establishment.get("adresse"))
    postal_code = _text(establishment.get("code_postal"))
    if postal_code and f" {postal_code} " in f" {address} ":
        address = address[: address.rfind(postal_code)].strip()
    return address


def _text(value) -> str:
    return str(value).strip() if value not in (None, "") else ""
