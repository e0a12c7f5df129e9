"""French company identifiers: the Luhn check digit of SIREN (9 digits) and SIRET (14), and the
validation of a SIRET (La Poste's establishments use their own rule)."""

from django.core.exceptions import ValidationError


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (SIREN, and most SIRET)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def is_valid_siren(value: str) -> bool:
    return len(value) == 9 and value.isdigit() and luhn_ok(value)


LA_POSTE_SIREN = "356000000"


def normalize_siret(value: str) -> str:
    return "".join(str(value or "").split())


def is_valid_siret(value: str) -> bool:
    siret = normalize_siret(value)
    if len(siret) != 14 or not siret.isdigit():
        return False
    if siret.startswith(LA_POSTE_SIREN) and siret != LA_POSTE_SIREN + "00001":
        return sum(int(c) for c in siret) % 5 == 0
    return luhn_ok(siret) and luhn_ok(siret[:9])


def validate_siret(value: str) -> None:
    siret = normalize_siret(value)
    if not siret:
        return
    if len(siret) != 14 or not siret.isdigit():
        raise ValidationError(
            "Un SIRET compte exactement 14 chiffres (9 pour le SIREN, 5 pour l'établissement).",
            code="siret_format",
        )
    if not is_valid_siret(siret):
        raise ValidationError(
            "Ce SIRET n'est pas valide : vérifiez les chiffres (la clé de contrôle ne "
            "correspond pas).",
            code="siret_checksum",
        )
