"""CPU cost of one login's password check, before (PBKDF2-SHA256, Django 5.2's 1 000 000
iterations) and after (Argon2id with OWASP's parameters, accounts.hashers), measured in process
CPU time, median of the runs. Needs no database.

    .venv/bin/python bench/password_hashing.py [--runs 15]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ami.settings.dev")
os.environ.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402

from accounts.hashers import Argon2idPasswordHasher  # noqa: E402

PASSWORD = "Coopération-territoriale-2026"  # noqa: S105 - a benchmark's sample


def measure(hasher, runs: int) -> tuple[float, float]:
    encoded = hasher.encode(PASSWORD, hasher.salt())
    cpu, wall = [], []
    for _ in range(runs):
        c, w = time.process_time(), time.perf_counter()
        assert hasher.verify(PASSWORD, encoded)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'hasher':<48} {'CPU (ms)':>9} {'wall (ms)':>10}")
    for label, hasher in [
        (f"PBKDF2-SHA256, {PBKDF2PasswordHasher.iterations} iterations", PBKDF2PasswordHasher()),
        ("Argon2id, m=19 MiB, t=2, p=1 (accounts.hashers)", Argon2idPasswordHasher()),
    ]:
        cpu, wall = measure(hasher, runs)
        print(f"{label:<48} {cpu * 1000:>9.1f} {wall * 1000:>10.1f}")


if __name__ == "__main__":
    main()
