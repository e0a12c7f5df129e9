"""Demo data for ``make run``: the 2025 edition (published) and the current one (open), the
territory sample, the 18 regional cells and the national cell with one demo user per role.
Idempotent: running it again changes nothing that is already there."""

from django.core.management.base import BaseCommand

from wiring.demo.seed import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Charge les données de démonstration (idempotent)."

    def handle(self, *args, **options):
        result = seed_demo()
        self.stdout.write(self.style.SUCCESS(f"Appel courant : {result.current_call.name}"))
        self.stdout.write("")
        self.stdout.write("Comptes de démonstration (mot de passe commun : " + DEMO_PASSWORD + ")")
        width = max(len(label) for label, _ in result.logins)
        for label, email in result.logins:
            self.stdout.write(f"  {label.ljust(width)}  {email}")
        self.stdout.write("")
        self.stdout.write("Ouvrez http://127.0.0.1:8000 — administration : /admin/")
