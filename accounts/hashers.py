"""Password hashing: Argon2id first (argon2-cffi), with OWASP's parameters for Argon2id (19 MiB
of memory, 2 iterations, 1 lane). Django's own defaults (100 MiB, 8 lanes) would need 50 GB of
memory for 500 logins at once during the deadline rush. A password stored with an older hasher
(PBKDF2) or other parameters is re-hashed at the next successful login (Django's
``must_update``)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
