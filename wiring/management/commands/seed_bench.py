"""National-scale bench data: a separate call « AMI PTCE banc d'essai » in national review with N
candidatures spread over the regions, reviewed, ranked and handed over (see ``wiring.demo.bench``).
Idempotent: a second run finds the call and changes nothing; ``--reset`` seeds it again."""

from django.core.management.base import BaseCommand, CommandError

from wiring.demo.bench import BENCH_PASSWORD, BENCH_SLUG, DEFAULT_COUNT, seed_bench


class Command(BaseCommand):
    help = "Charge l'appel de banc d'essai à l'échelle nationale (N candidatures instruites)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--candidatures",
            type=int,
            default=DEFAULT_COUNT,
            help=f"Nombre de candidatures (et de PTCE) ; {DEFAULT_COUNT} par défaut.",
        )
        parser.add_argument(
            "--call-slug",
            default=BENCH_SLUG,
            help=f"Identifiant de l'appel de banc d'essai ; « {BENCH_SLUG} » par défaut.",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Supprime d'abord l'appel de banc d'essai, ses PTCE et ses comptes.",
        )

    def handle(self, *args, **options):
        count = options["candidatures"]
        if count < 1:
            raise CommandError("Il faut au moins une candidature.")
        result = seed_bench(count, options["call_slug"], reset=options["reset"])
        call = result.call
        if result.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Appel « {call.name} » ({call.slug}) : {count} candidatures créées "
                    f"en {result.seconds:.1f} s."
                )
            )
            for label, number in result.counts.items():
                self.stdout.write(f"  {label} : {number}")
            if options["verbosity"] >= 2:
                self.stdout.write("Durée par étape :")
                for stage, seconds in result.timings.items():
                    self.stdout.write(f"  {stage} : {seconds:.1f} s")
        else:
            existing = result.counts["candidatures"]
            self.stdout.write(
                f"L'appel « {call.name} » ({call.slug}) existe déjà avec {existing} "
                "candidatures : rien n'est modifié (--reset pour le recréer)."
            )
            if existing != count:
                self.stdout.write(
                    self.style.WARNING(
                        f"Attention : {count} candidatures demandées, {existing} présentes."
                    )
                )
        self.stdout.write("")
        self.stdout.write(f"Comptes du banc d'essai (mot de passe commun : {BENCH_PASSWORD})")
        width = max((len(label) for label, _ in result.logins), default=0)
        for label, email in result.logins:
            self.stdout.write(f"  {label.ljust(width)}  {email}")
