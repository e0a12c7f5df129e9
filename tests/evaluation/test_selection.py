"""Selection assistant (``evaluation.selection``): the pure solver, without any database.

Random small instances are checked against a brute force over every subset, every proposal
against the rules in Decimal, and the explanations against what actually binds; hand-made cases
cover the knapsack trap, the funding floor, the bonuses, the infeasible rules and the French
messages."""

import itertools
import random
import re
from decimal import ROUND_CEILING, Decimal

import pytest

from evaluation.selection import Candidate, Rules, _euros, propose

D = Decimal
NNBSP = "\u202f"
NBSP = "\u00a0"
REGIONS = ("Bretagne", "Occitanie", "Grand Est")
FALLBACK = "Non retenue par le calcul"


def candidate(key, score, requested, *, region="Bretagne", rural=False, qpv=False, label=None):
    return Candidate(
        key=key,
        label=label or f"PTCE {key}",
        region=region,
        score=D(score),
        requested=D(requested),
        rural=rural,
        qpv=qpv,
    )


def rules(envelope, **overrides):
    values = {"min_amount": D(30000), "max_amount": D(80000)}
    values.update(overrides)
    return Rules(envelope=D(envelope), **values)


def fr(text):
    """A sentence as the module writes it: narrow no-break spaces between thousands, no-break
    spaces before « € » and « % »."""
    text = re.sub(r"(?<=\d) (?=\d{3}(?!\d))", NNBSP, text)
    return text.replace(" €", NBSP + "€").replace(" %", NBSP + "%")


# --- What the rules say, computed independently ------------------------------------------------


def bounds(c, rules):
    """(lowest, highest) amount of ``c`` in euros; None when it can never be selected."""
    cap = min(c.requested, rules.max_amount)
    if cap < rules.min_amount:
        return None
    low = max(rules.min_amount, rules.funding_floor * cap)
    low = low.quantize(D("0.01"), rounding=ROUND_CEILING)
    return low, cap


def adjusted(c, rules):
    return c.score + (rules.rural_bonus if c.rural else 0) + (rules.qpv_bonus if c.qpv else 0)


def share_ok(chosen, flag, share):
    if share is None:
        return True
    return sum(1 for c in chosen if getattr(c, flag)) >= share * len(chosen)


def respects_rules(chosen, rules):
    """Whether the list ``chosen`` may be funded: every rule, with the amounts at their lowest."""
    keys = {c.key for c in chosen}
    if keys & rules.forced_out or not rules.forced_in <= keys:
        return False
    lows = [bounds(c, rules) for c in chosen]
    if any(b is None for b in lows) or sum(b[0] for b in lows) > rules.envelope:
        return False
    if rules.max_per_region is not None:
        for region in REGIONS:
            if sum(1 for c in chosen if c.region == region) > rules.max_per_region:
                return False
    return share_ok(chosen, "rural", rules.rural_min_share) and share_ok(
        chosen, "qpv", rules.qpv_min_share
    )


def brute_force(candidates, rules):
    """The best total adjusted score over every subset, None when no subset is allowed."""
    best = None
    for size in range(len(candidates) + 1):
        for chosen in itertools.combinations(candidates, size):
            if respects_rules(chosen, rules):
                total = sum((adjusted(c, rules) for c in chosen), D(0))
                best = total if best is None else max(best, total)
    return best


def check_invariants(candidates, rules, proposal):
    by_key = {c.key: c for c in candidates}
    assert len(proposal.lines) == len(candidates)
    expected = sorted(candidates, key=lambda c: (-adjusted(c, rules), c.key))
    assert [line.key for line in proposal.lines] == [c.key for c in expected]
    assert [line.rank for line in proposal.lines] == list(range(1, len(candidates) + 1))
    for line in proposal.lines:
        assert line.score == adjusted(by_key[line.key], rules).quantize(D("0.01"))
        assert line.reasons and all(isinstance(reason, str) for reason in line.reasons)
        if not line.selected:
            assert line.amount is None
    chosen = [line for line in proposal.lines if line.selected]
    if not proposal.feasible:
        assert not chosen
        assert proposal.total_granted == 0
        return
    total = D(0)
    for line in chosen:
        c = by_key[line.key]
        low, cap = bounds(c, rules)
        assert line.amount.as_tuple().exponent == -2  # cents
        assert low <= line.amount <= cap
        assert line.amount <= c.requested
        total += line.amount
    assert proposal.total_granted == total
    assert total <= rules.envelope
    assert respects_rules([by_key[line.key] for line in chosen], rules)
    assert proposal.total_score == sum(
        (adjusted(by_key[line.key], rules) for line in chosen), D(0)
    ).quantize(D("0.01"))


def check_explanations(candidates, rules, proposal):
    """Every excluded line names what actually binds: all that applies, nothing that doesn't."""
    by_key = {c.key: c for c in candidates}
    chosen = [by_key[line.key] for line in proposal.lines if line.selected]
    low_total = sum((bounds(c, rules)[0] for c in chosen), D(0))
    for line in proposal.lines:
        c = by_key[line.key]
        if line.selected:
            assert line.reasons[0].startswith("Retenue : note ")
            assert ("Imposée par la CNA." in line.reasons) == (c.key in rules.forced_in)
            continue
        assert line.reasons[0].startswith("Non retenue : note ")
        assert len(line.reasons) >= 2, line.reasons
        assert not any(reason.startswith(FALLBACK) for reason in line.reasons), line.reasons
        text = " ".join(line.reasons)
        if c.key in rules.forced_out:
            assert "Écartée par la CNA." in line.reasons
            continue
        if bounds(c, rules) is None:
            assert "inférieur au minimum de l'appel" in text
            continue
        budget = low_total + bounds(c, rules)[0] > rules.envelope
        assert ("Enveloppe insuffisante" in text) == budget, text
        region = rules.max_per_region is not None and (
            sum(1 for other in chosen if other.region == c.region) >= rules.max_per_region
        )
        assert ("Plafond de" in text) == region, text
        for flag, share, noun in (
            ("rural", rules.rural_min_share, "ruraux"),
            ("qpv", rules.qpv_min_share, "en quartier prioritaire"),
        ):
            breaks = bool(share) and not share_ok([*chosen, c], flag, share)
            assert (f"La retenir ferait passer la part de lauréats {noun}" in text) == breaks, text


# --- Random instances against the brute force ------------------------------------------------


def random_instance(rng):
    n = rng.randint(1, 9)
    scores = [D(rng.randint(0, 10000)) / 100 for _ in range(3)]
    candidates = [
        Candidate(
            key=100 + index,
            label=f"PTCE {index}",
            region=rng.choice(REGIONS),
            # Now and then a score shared with another candidature: ties by key.
            score=rng.choice(scores) if rng.random() < 0.2 else D(rng.randint(0, 10000)) / 100,
            requested=D(rng.randint(1_500_000, 9_000_000)) / 100,
            rural=rng.random() < 0.4,
            qpv=rng.random() < 0.3,
        )
        for index in range(n)
    ]
    keys = [c.key for c in candidates]
    forced_in = frozenset(rng.sample(keys, rng.randint(1, min(2, n)))) if rng.random() < 0.2 else []
    others = [key for key in keys if key not in forced_in]
    forced_out = frozenset(rng.sample(others, 1)) if others and rng.random() < 0.2 else []
    min_amount = D(rng.choice([10000, 20000, 30000]))
    return candidates, Rules(
        envelope=D(rng.randint(0, 40)) * 10000 + D(rng.randint(0, 99)) / 100,
        min_amount=min_amount,
        max_amount=min_amount + D(rng.choice([10000, 30000, 60000])),
        funding_floor=D("0.5") if rng.random() < 0.3 else D(1),
        rural_min_share=rng.choice([None, None, D("0.3"), D("0.5")]),
        qpv_min_share=rng.choice([None, None, None, D("0.25")]),
        rural_bonus=rng.choice([D(0), D(0), D(2), D("1.5")]),
        qpv_bonus=rng.choice([D(0), D(0), D(1)]),
        max_per_region=rng.choice([None, None, 1, 2]),
        forced_in=frozenset(forced_in),
        forced_out=frozenset(forced_out),
    )


def test_random_instances_match_the_brute_force_and_respect_every_rule():
    rng = random.Random(20240611)
    seen = {"feasible": 0, "infeasible": 0, "reduced": 0}
    for _ in range(200):
        candidates, the_rules = random_instance(rng)
        proposal = propose(candidates, the_rules)
        best = brute_force(candidates, the_rules)
        context = (candidates, the_rules, proposal.message)
        check_invariants(candidates, the_rules, proposal)
        if best is None:
            assert not proposal.feasible, context
            assert proposal.message.startswith("Aucune liste ne respecte toutes les règles"), (
                context
            )
            seen["infeasible"] += 1
            continue
        assert proposal.feasible, context
        assert "limite de temps" not in proposal.message
        assert abs(proposal.total_score - best) <= D("0.01"), context
        check_explanations(candidates, the_rules, proposal)
        seen["feasible"] += 1
        seen["reduced"] += any(
            "Montant réduit" in reason for line in proposal.lines for reason in line.reasons
        )
    # The generator exercises every branch.
    assert seen["feasible"] > 100 and seen["infeasible"] > 3 and seen["reduced"] > 3, seen


# --- Hand-made cases --------------------------------------------------------------------------


def selected_keys(proposal):
    return {line.key for line in proposal.lines if line.selected}


def line_of(proposal, key):
    return next(line for line in proposal.lines if line.key == key)


def test_knapsack_beats_the_greedy_choice_by_score():
    candidates = [
        candidate(1, "90", "60000", label="Alpha"),
        candidate(2, "80", "50000", label="Bravo"),
        candidate(3, "75", "50000", label="Charlie"),
    ]
    proposal = propose(candidates, rules("100000"))
    # Greedy by score takes Alpha alone (90); Bravo + Charlie make 155.
    assert proposal.feasible
    assert selected_keys(proposal) == {2, 3}
    assert proposal.total_score == D("155.00")
    assert proposal.total_granted == D("100000.00")
    alpha = line_of(proposal, 1)
    assert alpha.rank == 1 and alpha.amount is None
    assert alpha.reasons[0] == "Non retenue : note 90,00 (rang 1 sur 3)."
    assert alpha.reasons[1].startswith(
        fr(
            "Enveloppe insuffisante : il reste 0,00 € alors qu'il faudrait 60 000,00 € pour la "
            "retenir ; il manquerait 60 000,00 €."
        )
    )
    assert "ne ferait pas progresser la note totale" in alpha.reasons[1]
    bravo = line_of(proposal, 2)
    assert bravo.reasons[0] == fr("Retenue : note 80,00 (rang 2 sur 3), montant 50 000,00 €.")
    assert "Passe devant 1 candidature mieux notée non retenue : voir leur motif." in bravo.reasons
    assert proposal.message == fr(
        "2 candidatures retenues sur 3 pour 100 000,00 € (enveloppe 100 000,00 €, reste "
        "0,00 €) ; note totale 155,00."
    )


def test_budget_reason_says_a_better_scored_one_would_go():
    candidates = [candidate(1, "90", "60000"), candidate(2, "80", "60000")]
    proposal = propose(candidates, rules("100000"))
    assert selected_keys(proposal) == {1}
    reason = line_of(proposal, 2).reasons[1]
    assert reason == fr(
        "Enveloppe insuffisante : il reste 40 000,00 € alors qu'il faudrait 60 000,00 € pour la "
        "retenir ; il manquerait 20 000,00 €. La retenir obligerait à écarter au moins une "
        "candidature mieux notée."
    )


def test_funding_floor_lets_one_more_laureate_in():
    candidates = [candidate(key, str(90 - key), "60000") for key in (1, 2, 3)]
    full = propose(candidates, rules("150000"))
    assert selected_keys(full) == {1, 2}
    assert full.total_granted == D("120000.00")

    reduced = propose(candidates, rules("150000", funding_floor=D("0.8")))
    assert selected_keys(reduced) == {1, 2, 3}
    assert reduced.total_granted == D("150000.00")
    assert [line.amount for line in reduced.lines] == [D("50000.00")] * 3
    assert (
        fr("Montant réduit à 83,3 % du montant demandé (60 000,00 €) pour tenir l'enveloppe.")
        in reduced.lines[0].reasons
    )


def test_reduction_is_the_same_share_for_everyone_and_never_below_the_floor():
    candidates = [
        candidate(1, "90", "80000"),
        candidate(2, "85", "40000"),
        candidate(3, "80", "35000"),
    ]
    proposal = propose(candidates, rules("130000", funding_floor=D("0.5")))
    amounts = {line.key: line.amount for line in proposal.lines}
    # r·(80 000 + 40 000) + 30 000 (the minimum, above r·35 000) = 130 000 → r = 5/6.
    assert amounts == {1: D("66666.67"), 2: D("33333.33"), 3: D("30000.00")}
    assert proposal.total_granted == D("130000.00")


def test_amounts_are_capped_at_the_call_maximum():
    proposal = propose([candidate(1, "70", "95000")], rules("500000"))
    line = proposal.lines[0]
    assert line.amount == D("80000.00")
    assert (
        fr("Montant plafonné au maximum de l'appel (80 000,00 €) ; 95 000,00 € demandés.")
        in line.reasons
    )


def test_bonus_changes_the_choice():
    candidates = [
        candidate(1, "80", "60000", label="Urbaine"),
        candidate(2, "78", "60000", label="Rurale", rural=True),
    ]
    assert selected_keys(propose(candidates, rules("60000"))) == {1}
    proposal = propose(candidates, rules("60000", rural_bonus=D(3)))
    assert selected_keys(proposal) == {2}
    rural = line_of(proposal, 2)
    assert rural.score == D("81.00") and rural.rank == 1
    assert "Bonus rural : +3 points inclus dans la note." in rural.reasons


def test_region_cap_reason():
    candidates = [
        candidate(1, "90", "40000"),
        candidate(2, "85", "40000"),
        candidate(3, "70", "40000"),
        candidate(4, "60", "40000", region="Occitanie"),
    ]
    proposal = propose(candidates, rules("1000000", max_per_region=2))
    assert selected_keys(proposal) == {1, 2, 4}
    assert line_of(proposal, 3).reasons[1] == (
        "Plafond de 2 lauréats atteint pour Bretagne : les 2 retenues ont une meilleure note."
    )


def test_region_cap_reason_names_the_worse_scored_laureate_and_why_it_stays():
    candidates = [
        candidate(1, "90", "40000"),
        candidate(2, "50", "40000", label="Imposée"),
        candidate(3, "70", "40000"),
    ]
    proposal = propose(candidates, rules("1000000", max_per_region=2, forced_in=frozenset({2})))
    assert selected_keys(proposal) == {1, 2}
    assert line_of(proposal, 3).reasons[1] == (
        "Plafond de 2 lauréats atteint pour Bretagne. Elle ne peut remplacer aucune des retenues "
        "moins bien notées de la région : « Imposée » (imposée par la CNA)."
    )
    assert "Imposée par la CNA." in line_of(proposal, 2).reasons


def test_share_reason():
    candidates = [
        candidate(1, "90", "40000"),
        candidate(2, "85", "40000"),
        candidate(3, "60", "40000", rural=True),
    ]
    proposal = propose(candidates, rules("1000000", rural_min_share=D("0.5")))
    assert selected_keys(proposal) == {1, 3}
    assert line_of(proposal, 2).reasons[1] == (
        fr("La retenir ferait passer la part de lauréats ruraux sous le minimum de 50 % (1 sur 3).")
    )
    assert (
        f"Rurale : compte dans la part minimale de lauréats ruraux (50{NBSP}%)."
        in line_of(proposal, 3).reasons
    )


def test_several_reasons_are_all_listed():
    candidates = [
        candidate(1, "90", "60000", rural=True),
        candidate(2, "85", "60000"),
    ]
    proposal = propose(candidates, rules("100000", rural_min_share=D("0.6"), max_per_region=1))
    assert selected_keys(proposal) == {1}
    text = " ".join(line_of(proposal, 2).reasons)
    assert "Enveloppe insuffisante" in text
    assert "Plafond de 1 lauréat atteint pour Bretagne : la retenue a une meilleure note." in text
    assert "la part de lauréats ruraux sous le minimum de 60" in text


def test_forced_out_and_ineligible_reasons():
    candidates = [
        candidate(1, "95", "50000"),
        candidate(2, "90", "20000"),
        candidate(3, "50", "50000"),
    ]
    proposal = propose(candidates, rules("1000000", forced_out=frozenset({1})))
    assert selected_keys(proposal) == {3}
    assert line_of(proposal, 1).reasons[1:] == ["Écartée par la CNA."]
    assert line_of(proposal, 2).reasons[1:] == [
        fr(
            "Montant demandé (20 000,00 €) inférieur au minimum de l'appel (30 000,00 €) : elle "
            "ne peut pas être retenue."
        )
    ]


def test_forced_in_wins_over_a_better_score():
    candidates = [candidate(1, "90", "60000"), candidate(2, "40", "60000")]
    proposal = propose(candidates, rules("60000", forced_in=frozenset({2})))
    assert selected_keys(proposal) == {2}
    assert "Imposée par la CNA." in line_of(proposal, 2).reasons


def test_equal_scores_are_ranked_by_key():
    candidates = [candidate(9, "70", "40000"), candidate(3, "70", "40000")]
    proposal = propose(candidates, rules("40000"))
    assert [(line.key, line.rank) for line in proposal.lines] == [(3, 1), (9, 2)]


def test_empty_candidate_list():
    proposal = propose([], rules("100000"))
    assert proposal.feasible
    assert proposal.lines == []
    assert proposal.total_score == 0 and proposal.total_granted == 0
    assert "rien à sélectionner" in proposal.message


def test_nothing_fits_is_still_a_feasible_empty_list():
    proposal = propose([candidate(1, "80", "60000")], rules("10000"))
    assert proposal.feasible
    assert selected_keys(proposal) == set()
    assert proposal.message.startswith("Aucune candidature ne peut être retenue")
    assert "Enveloppe insuffisante" in proposal.lines[0].reasons[1]


# --- Infeasible rules -------------------------------------------------------------------------


def test_forced_in_over_the_envelope():
    candidates = [
        candidate(1, "80", "60000", label="Alpha"),
        candidate(2, "70", "60000", label="Bravo"),
        candidate(3, "60", "40000"),
    ]
    proposal = propose(candidates, rules("100000", forced_in=frozenset({1, 2})))
    assert not proposal.feasible
    assert selected_keys(proposal) == set()
    assert proposal.message == fr(
        "Aucune liste ne respecte toutes les règles. Les candidatures imposées (« Alpha » et "
        "« Bravo ») coûtent au moins 120 000,00 € à leur montant le plus bas, plus que "
        "l'enveloppe de 100 000,00 €. Avec une enveloppe d'au moins 120 000,00 € (au lieu de "
        "100 000,00 €), une liste existe. En n'imposant plus l'une de ces candidatures, une "
        "liste existe : « Alpha » ou « Bravo »."
    )
    assert all(line.amount is None for line in proposal.lines)
    assert "Imposée par la CNA." in line_of(proposal, 1).reasons


def test_share_impossible_with_the_forced_in():
    candidates = [
        candidate(1, "80", "40000", label="Alpha"),
        candidate(2, "70", "40000", label="Bravo"),
        candidate(3, "60", "40000", rural=True),
    ]
    proposal = propose(
        candidates, rules("1000000", rural_min_share=D("0.5"), forced_in=frozenset({1, 2}))
    )
    assert not proposal.feasible
    message = proposal.message
    assert (
        f"La part minimale de lauréats ruraux (50{NBSP}%) ne peut pas être atteinte avec les "
        "candidatures imposées (« Alpha » et « Bravo ») : il n'y a pas assez de candidatures "
        "rurales recevables." in message
    )
    assert f"Sans la part minimale de lauréats ruraux (50{NBSP}%), une liste existe." in message


def test_forced_in_over_the_region_cap():
    candidates = [
        candidate(1, "80", "40000", label="Alpha"),
        candidate(2, "70", "40000", label="Bravo"),
        candidate(3, "60", "40000", region="Occitanie"),
    ]
    proposal = propose(candidates, rules("1000000", max_per_region=1, forced_in=frozenset({1, 2})))
    assert not proposal.feasible
    assert (
        "2 candidatures imposées en Bretagne (« Alpha » et « Bravo ») pour un plafond de "
        "1 lauréat par région." in proposal.message
    )
    assert "Sans le plafond de 1 lauréat par région, une liste existe." in proposal.message


def test_conflict_between_several_rules_and_the_relaxations_that_help():
    candidates = [
        candidate(1, "80", "60000", label="Alpha"),
        candidate(2, "70", "60000", label="Rurale", rural=True),
    ]
    proposal = propose(
        candidates, rules("100000", rural_min_share=D("0.5"), forced_in=frozenset({1}))
    )
    # Alone, neither the envelope nor the share excludes Alpha; together they do.
    assert not proposal.feasible
    assert proposal.message == fr(
        "Aucune liste ne respecte toutes les règles. Impossible de respecter ensemble les "
        "candidatures imposées (« Alpha »), l'enveloppe de 100 000,00 € et la part minimale de "
        "lauréats ruraux (50 %). Avec une enveloppe d'au moins 120 000,00 € (au lieu de "
        "100 000,00 €), une liste existe. Sans la part minimale de lauréats ruraux (50 %), une "
        "liste existe. En n'imposant plus « Alpha », une liste existe."
    )


def test_forced_in_that_can_never_be_selected():
    candidates = [candidate(1, "80", "20000", label="Petite"), candidate(2, "70", "40000")]
    proposal = propose(candidates, rules("1000000", forced_in=frozenset({1})))
    assert not proposal.feasible
    assert proposal.message.startswith(
        "Aucune liste ne respecte toutes les règles. « Petite » est imposée mais ne peut pas "
        "être retenue."
    )
    assert "Retirez-la des candidatures imposées." in proposal.message

    both = propose(candidates, rules("1000000", forced_in={2}, forced_out={2}))
    assert not both.feasible
    assert "« PTCE 2 » est à la fois imposée et écartée par la CNA" in both.message


# --- Programmer errors and formatting ---------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"envelope": D(-1)},
        {"funding_floor": D(0)},
        {"funding_floor": D("1.5")},
        {"rural_min_share": D("1.2")},
        {"max_per_region": -1},
    ],
)
def test_programmer_errors_raise(overrides):
    values = {"envelope": D(100000), "min_amount": D(30000), "max_amount": D(80000)}
    values.update(overrides)
    with pytest.raises(ValueError):
        propose([candidate(1, "80", "40000")], Rules(**values))


def test_unknown_forced_keys_are_ignored_and_said():
    proposal = propose(
        [candidate(1, "80", "40000")],
        rules("100000", forced_in=frozenset({98, 99}), forced_out=frozenset({97})),
    )
    assert proposal.feasible and selected_keys(proposal) == {1}
    assert proposal.message.endswith(
        "2 candidatures imposées ne figurent pas parmi les candidatures : elles sont ignorées."
    )


def test_duplicate_keys_raise():
    with pytest.raises(ValueError):
        propose([candidate(1, "80", "40000"), candidate(1, "70", "40000")], rules("100000"))


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (D("1234.5"), "1 234,50 €"),
        (D("0"), "0,00 €"),
        (D("999.999"), "1 000,00 €"),
        (D("1234567.891"), "1 234 567,89 €"),
    ],
)
def test_euros(amount, text):
    assert _euros(amount) == fr(text)
