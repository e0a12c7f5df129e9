"""The French sentences of a proposal: why each candidature is selected or not (with the swap
that would have let it in), and the summary of the list."""

from bisect import bisect_left, bisect_right
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from ami.formats import plural

from .common import (
    CENT,
    LIMIT,
    QPV,
    RURAL,
    Line,
    _cents_to_euros,
    _euros,
    _Item,
    _note,
    _percent,
    _plain,
    _plural,
)


class Explanations:
    """The explaining half of ``solve.Problem`` (a mixin: it reads the problem's ``items``,
    ``rules``, ``envelope``… and calls its exact checks)."""

    # --- Explanations -------------------------------------------------------------------------

    def _header(self, item: _Item) -> str:
        return f"note {_note(item.adjusted)} (rang {item.rank} sur {len(self.items)})"

    def _bonus_reasons(self, item: _Item) -> list[str]:
        reasons = []
        if item.candidate.rural and self.rural_bonus:
            reasons.append(f"Bonus rural : {self._signed(self.rural_bonus)} inclus dans la note.")
        if item.candidate.qpv and self.qpv_bonus:
            reasons.append(f"Bonus QPV : {self._signed(self.qpv_bonus)} inclus dans la note.")
        return reasons

    @staticmethod
    def _signed(points: Decimal) -> str:
        sign = "+" if points > 0 else "−"
        unit = "point" if abs(points) < 2 else "points"  # French: plural from 2 on
        return f"{sign}{_plain(abs(points))} {unit}"

    def _ineligible_reason(self, item: _Item) -> str:
        if self.max_amount < self.min_amount:
            return (
                f"Le maximum de l'appel ({_euros(self.max_amount)}) est inférieur à son minimum "
                f"({_euros(self.min_amount)}) : aucune candidature ne peut être retenue."
            )
        return (
            f"Montant demandé ({_euros(item.candidate.requested)}) inférieur au minimum de "
            f"l'appel ({_euros(self.min_amount)}) : elle ne peut pas être retenue."
        )

    def _lines(self, selected: set[int], amounts: dict[int, int]) -> list[Line]:
        chosen = [self.items[index] for index in sorted(selected)]
        count = len(chosen)
        low_total = sum(item.low for item in chosen)
        granted = sum(amounts.values())
        flagged = {
            group: sum(1 for item in chosen if self._flag(item, group)) for group in self.shares
        }
        per_region: dict[str, list[_Item]] = {}
        for item in chosen:
            per_region.setdefault(item.candidate.region, []).append(item)
        for members in per_region.values():
            members.sort(key=lambda member: member.adjusted)
        # Adding one more candidature without the flag would break the share.
        breaks = {group: not self._share_ok(count + 1, flagged[group], group) for group in flagged}
        # Selected, not forced, sorted by adjusted score: Σ of their lowest amounts below a score.
        movable = sorted(
            (item for item in chosen if not item.forced_in), key=lambda item: item.adjusted
        )
        movable_scores = [item.adjusted for item in movable]
        movable_lows = [0]
        for item in movable:
            movable_lows.append(movable_lows[-1] + item.low)
        context = {
            "count": count,
            "low_total": low_total,
            "granted": granted,
            "flagged": flagged,
            "per_region": per_region,
            "region_scores": {
                region: [member.adjusted for member in members]
                for region, members in per_region.items()
            },
            "breaks": breaks,
            "movable_scores": movable_scores,
            "movable_lows": movable_lows,
        }
        lines = []
        passed_over = 0  # better-ranked candidatures the model could have selected but did not
        for item in self.items:
            if item.index in selected:
                reasons = self._selected_reasons(item, amounts[item.index], passed_over)
                amount = _cents_to_euros(amounts[item.index])
            else:
                reasons = self._excluded_reasons(item, context)
                amount = None
                if item.eligible and not item.forced_out:
                    passed_over += 1
            lines.append(
                Line(
                    key=item.candidate.key,
                    selected=item.index in selected,
                    amount=amount,
                    score=item.adjusted.quantize(CENT, rounding=ROUND_HALF_UP),
                    rank=item.rank,
                    reasons=reasons,
                )
            )
        return lines

    def _selected_reasons(self, item: _Item, cents: int, passed_over: int) -> list[str]:
        amount = _cents_to_euros(cents)
        requested = item.candidate.requested
        reasons = [f"Retenue : {self._header(item)}, montant {_euros(amount)}."]
        reasons.extend(self._bonus_reasons(item))
        if item.forced_in:
            reasons.append("Imposée par la CNA.")
        if requested > self.max_amount:
            reasons.append(
                f"Montant plafonné au maximum de l'appel ({_euros(self.max_amount)}) ; "
                f"{_euros(requested)} demandés."
            )
        if cents < item.cap:
            reasons.append(
                f"Montant réduit à {_percent(amount / requested)} du montant demandé "
                f"({_euros(requested)}) pour tenir l'enveloppe."
            )
        if RURAL in self.shares and item.candidate.rural:
            reasons.append(
                "Rurale : compte dans la part minimale de lauréats ruraux "
                f"({_percent(self.shares[RURAL])})."
            )
        if QPV in self.shares and item.candidate.qpv:
            reasons.append(
                "En quartier prioritaire : compte dans la part minimale de lauréats en QPV "
                f"({_percent(self.shares[QPV])})."
            )
        if passed_over:
            others = _plural(
                passed_over,
                "candidature mieux notée non retenue",
                "candidatures mieux notées non retenues",
            )
            reasons.append(f"Passe devant {others} : voir leur motif.")
        return reasons

    def _excluded_reasons(self, item: _Item, context: dict) -> list[str]:
        reasons = [f"Non retenue : {self._header(item)}."]
        reasons.extend(self._bonus_reasons(item))
        if item.forced_out:
            reasons.append("Écartée par la CNA.")
        if not item.eligible:
            reasons.append(self._ineligible_reason(item))
        if item.forced_out or not item.eligible:
            return reasons
        binding = []
        binding.extend(self._budget_reason(item, context))
        binding.extend(self._region_reason(item, context))
        for group in self.shares:
            if self._flag(item, group):
                continue
            count, flagged = context["count"], context["flagged"][group]
            if context["breaks"][group]:
                binding.append(
                    f"La retenir ferait passer la part de {self._group_noun(group)} sous le "
                    f"minimum de {_percent(self.shares[group])} ({flagged} sur {count + 1})."
                )
        if not binding and item.adjusted <= 0:
            binding.append("Note nulle ou négative : la retenir n'améliorerait pas la note totale.")
        if not binding:
            binding.append(
                "Non retenue par le calcul : la liste proposée n'est peut-être pas optimale "
                "(limite de temps du solveur)."
            )
        return reasons + binding

    def _budget_reason(self, item: _Item, context: dict) -> list[str]:
        spare = self.envelope_cents - context["low_total"]  # after reducing everyone to the floor
        shortage = item.low - spare
        if shortage <= 0:
            return []
        remaining = self.envelope_cents - context["granted"]
        needed = "il faudrait" if item.low == item.cap else "il faudrait au moins"
        if context["granted"] == context["low_total"]:
            text = (
                f"Enveloppe insuffisante : il reste {_euros(_cents_to_euros(remaining))} alors "
                f"qu'{needed} {_euros(_cents_to_euros(item.low))} pour la retenir ; il "
                f"manquerait {_euros(_cents_to_euros(shortage))}."
            )
        else:
            text = (
                f"Enveloppe insuffisante : il reste {_euros(_cents_to_euros(remaining))} et, "
                "même en ramenant les montants des lauréats à leur plancher, il manquerait "
                f"{_euros(_cents_to_euros(shortage))} pour lui accorder "
                f"{_euros(_cents_to_euros(item.low))}."
            )
        # What removing every selected, non-forced candidature scored no better than this one
        # would free: if not enough, a better-scored one would have to go.
        below = context["movable_lows"][bisect_right(context["movable_scores"], item.adjusted)]
        if below < shortage:
            text += " La retenir obligerait à écarter au moins une candidature mieux notée."
        else:
            text += (
                " La faire entrer à la place de candidatures moins bien notées ne ferait pas "
                "progresser la note totale ou enfreindrait une autre règle."
            )
        return [text]

    def _region_reason(self, item: _Item, context: dict) -> list[str]:
        if self.region_cap is None:
            return []
        region = item.candidate.region
        members = context["per_region"].get(region, [])
        if len(members) < self.region_cap:
            return []
        cap = self.region_cap
        text = f"Plafond de {_plural(cap, 'lauréat', 'lauréats')} atteint pour {region}"
        if cap == 0:
            return [f"{text} : aucune candidature de cette région ne peut être retenue."]
        # Members sorted by adjusted score: the first ``below`` are scored below this one.
        below = bisect_left(context["region_scores"][region], item.adjusted)
        worse = members[:below]
        if not worse:
            if members[0].adjusted > item.adjusted:
                verb = "a une meilleure note" if cap == 1 else "ont une meilleure note"
            else:
                verb = "a une note au moins égale" if cap == 1 else "ont une note au moins égale"
            retained = "la retenue" if cap == 1 else f"les {cap} retenues"
            return [f"{text} : {retained} {verb}."]
        details = [
            f"« {member.label} » ({self._swap_obstacle(item, member, context)})"
            for member in worse[:3]
        ]
        more = f" (et {plural(len(worse) - 3, 'autre')})" if len(worse) > 3 else ""
        return [
            f"{text}. Elle ne peut remplacer aucune des retenues moins bien notées de la région : "
            + ", ".join(details)
            + more
            + "."
        ]

    def _swap_obstacle(self, item: _Item, member: _Item, context: dict) -> str:
        """Why ``item`` cannot take the place of the selected ``member``."""
        obstacles = []
        if member.forced_in:
            obstacles.append("imposée par la CNA")
        if context["low_total"] - member.low + item.low > self.envelope_cents:
            obstacles.append("l'enveloppe ne suffirait plus")
        for group in self.shares:
            if self._flag(member, group) and not self._flag(item, group):
                flagged = context["flagged"][group] - 1
                if not self._share_ok(context["count"], flagged, group):
                    obstacles.append(
                        f"la part de {self._group_noun(group)} tomberait sous "
                        f"{_percent(self.shares[group])}"
                    )
        if not obstacles:
            obstacles.append("l'échange ne ferait pas progresser la note totale")
        return ", ".join(obstacles)

    def _summary(self, selected, total_score, total_granted, status, gap=None) -> str:
        count = len(selected)
        remaining = self.envelope - total_granted
        if count == 0:
            message = (
                "Aucune candidature ne peut être retenue avec ces règles : voir le motif de "
                "chaque ligne."
            )
        else:
            retained = _plural(count, "candidature retenue", "candidatures retenues")
            message = (
                f"{retained} sur {len(self.items)} pour {_euros(total_granted)} (enveloppe "
                f"{_euros(self.envelope)}, reste {_euros(remaining)}) ; note totale "
                f"{_note(total_score)}."
            )
        if status == LIMIT:
            message += (
                " Attention : le calcul a atteint sa limite de temps. La liste respecte toutes "
                "les règles mais n'est peut-être pas la meilleure possible"
            )
            if gap is not None:
                gap = gap.quantize(CENT, rounding=ROUND_CEILING)
                points = "points" if gap >= 2 else "point"
                message += f" : la meilleure ferait au plus {_note(gap)} {points} de plus."
            else:
                message += "."
        return message
