"""French company identifiers: the Luhn check digit of SIREN (9 digits) and SIRET (14)."""


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (SIREN, and most SIRET)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def is_valid_siren(value: str) -> bool:
    return len(value) == 9 and value.isdigit() and luhn_ok(value)
