"""The checks of assignment 3, measuring the loss: one definition for check() and the judge.

The learner's answers are checked against the learner's own data (`published`,
`received`), and their functions also against lists drawn afresh each run, so typed-in
numbers pass only when they are the right numbers.
"""

from __future__ import annotations

import math

from helpers.checks.core import Answers, expect, question
from helpers.checks.tools import is_int, is_number, rng, same, show
from helpers.experiments import results
from helpers.language import _

LOSS = "a3_measure_loss"


def _experiment(answers: Answers) -> tuple[int, list[int], list[int]]:
    """(COUNT, published, received) from the learner's run, checked for shape."""
    where = _("the experiment cell")
    count = answers.get("COUNT", _("question 1"))
    published = answers.get("published", where)
    received = answers.get("received", where)
    expect(
        is_int(count)
        and type(published) is list
        and len(published) == count
        and all(map(is_int, published)),
        _("published: one PUBLISH return value per message, {count} of them").format(
            count=show(count)
        ),
        _("published is {value}").format(value=show(published)),
        _("Run the experiment cell again after changing the parameters."),
    )
    expect(
        type(received) is list and all(is_int(n) and 0 <= n < count for n in received),
        _("received: sequence numbers between 0 and {last}").format(last=count - 1),
        _("received is {value}").format(value=show(received)),
        _("Run the experiment cell again."),
    )
    return count, published, sorted(set(received))


def _near(guess: object, want: float) -> bool:
    """A number within 20% (or 5 messages) of `want`: what an estimate needs to be."""
    return is_number(guess) and abs(guess - want) <= max(0.2 * want, 5)


@question(LOSS, "q1")
def _loss_run(answers: Answers) -> None:
    rate = answers.get("RATE", _("question 1"))
    count = answers.get("COUNT", _("question 1"))
    away = answers.get("AWAY_SECONDS", _("question 1"))
    expect(
        is_number(rate) and 100 <= rate <= 5000,
        _("RATE between 100 and 5000 messages per second"),
        f"RATE = {show(rate)}",
        _("Pick a rate this machine can pace: a few hundred to a few thousand per second."),
    )
    expect(
        is_int(count) and 100 <= count <= 10_000 and count / rate <= 10,
        _("COUNT between 100 and 10,000, and a run of at most 10 s (COUNT / RATE)"),
        _("COUNT = {count} at RATE {rate}").format(count=show(count), rate=rate),
        _("Fewer messages or a higher rate keep the experiment short."),
    )
    expect(
        is_number(away) and 0 < away < 0.6 * count / rate,
        _("0 < AWAY_SECONDS < {limit:.2f} s, so the subscriber comes back in time").format(
            limit=0.6 * count / rate
        ),
        f"AWAY_SECONDS = {show(away)}",
        _("The subscriber leaves after a third of the run: it must be back before the end."),
    )
    predicted = answers.get("predicted_lost", _("question 1"))
    count, _published, received = _experiment(answers)
    measured = len(_lost(count, received))
    expect(
        _near(predicted, rate * away) or _near(predicted, measured),
        _(
            "predicted_lost: about {predicted:g}, what your RATE and AWAY_SECONDS give "
            "(or the {measured} you measured), within 20%"
        ).format(predicted=rate * away, measured=measured),
        f"predicted_lost = {show(predicted)}",
        _(
            "Nobody listens while the subscriber is away: how many messages are published in "
            "AWAY_SECONDS at RATE per second? Write the reason in a comment beside it."
        ),
    )
    expect(
        bool(received),
        _("received: the sequence numbers the subscriber heard"),
        _("received is empty"),
        _("Run the experiment cell again."),
    )


def _lost(count: int, received: list[int]) -> list[int]:
    return results.lost(range(count), received)


def _gaps(lost: list[int]) -> list[list[int]]:
    """As lists, [first, last], the shape the learner's gaps() returns."""
    return [list(gap) for gap in results.gaps(lost)]


def _drawn(count: int) -> list[int]:
    """Sequence numbers as a subscriber might report them: some missing, unordered, repeated."""
    kept = [seq for seq in range(count) if rng.random() < 0.7]
    kept += rng.sample(kept, len(kept) // 5) if kept else []
    rng.shuffle(kept)
    return kept


@question(LOSS, "q2")
def _loss_lost(answers: Answers) -> None:
    lost_messages = answers.get("lost_messages", _("question 2"))
    count, _published, received = _experiment(answers)
    drawn_count = rng.randint(5, 40)
    for label, n, heard in [
        ("lost_messages(COUNT, received)", count, received),
        (f"lost_messages({drawn_count}, [...])", drawn_count, _drawn(drawn_count)),
    ]:
        got = answers.call(label, lost_messages, n, list(heard))
        want = _lost(n, heard)
        expect(
            same(got, want),
            _(
                "{label}: the {count} numbers from 0 to {last} missing from the list, "
                "in order, starting {start}"
            ).format(label=label, count=len(want), last=n - 1, start=want[:5]),
            _("it returned {value}").format(value=show(got)),
            _(
                "Every number in range(published_count) that is not in received, in order; "
                "received may be unordered and repeat a number."
            ),
        )


@question(LOSS, "q3")
def _loss_gaps(answers: Answers) -> None:
    gaps = answers.get("gaps", _("question 3"))
    count, _published, received = _experiment(answers)
    drawn = _lost(40, _drawn(40))
    rng.shuffle(drawn)
    for label, lost in [("gaps(lost)", _lost(count, received)), ("gaps([...])", drawn)]:
        got = answers.call(label, gaps, list(lost))
        want = _gaps(lost)
        expect(
            same(got, want),
            _("{label} == {want}: [first, last] of each run of consecutive numbers").format(
                label=label, want=show(want)
            ),
            _("it returned {value}").format(value=show(got)),
            _("Walk the sorted lost numbers; a number that is not last + 1 starts a new gap."),
        )


@question(LOSS, "q4")
def _loss_numbers(answers: Answers) -> None:
    count, published, received = _experiment(answers)
    lost = _lost(count, received)
    zero = sum(1 for n in published if n == 0)
    counted = sum(1 for seq in lost if published[seq] > 0)
    for name, want, meaning in [
        ("lost_count", len(lost), _("messages the subscriber never received")),
        ("zero_returns", zero, _("PUBLISH calls that returned 0")),
        ("counted_but_lost", counted, _("lost messages whose PUBLISH returned 1 or more")),
    ]:
        got = answers.get(name, _("question 4"))
        expect(
            same(got, want),
            _("{name} == {want} ({meaning}), from your own published and received").format(
                name=name, want=want, meaning=meaning
            ),
            f"{name} = {show(got)}",
            _("Compute it from the lists in a cell, do not type the number in."),
        )
    fraction = answers.get("loss_fraction", _("question 4"))
    expect(
        is_number(fraction) and math.isclose(fraction, len(lost) / count, abs_tol=1e-3),
        f"loss_fraction ≈ {len(lost) / count:.4f} (lost_count / COUNT)",
        f"loss_fraction = {show(fraction)}",
        _("A fraction between 0 and 1, not a percentage."),
    )


@question(LOSS, "q5")
def _loss_explain(answers: Answers) -> None:
    why = answers.get("why", _("question 5"))
    expect(
        type(why) is str and why.strip().lower() == "b",
        _("the letter of the explanation that fits your data"),
        f"why = {show(why)}",
        _(
            "Compare zero_returns and lost_count: what did Redis do with a message "
            "published while nobody was subscribed?"
        ),
    )
    count, _published, received = _experiment(answers)
    rate = answers.get("RATE", _("question 1"))
    away = answers.get("AWAY_SECONDS", _("question 1"))
    guess = answers.get("lost_if_away_twice", _("question 5"))
    measured = len(_lost(count, received))
    after = count - count // 3  # the subscriber leaves at message COUNT // 3
    model = min(2 * rate * away, after)
    expect(
        _near(guess, model) or _near(guess, min(2 * measured, after)),
        _(
            "about {model:g}: twice RATE × AWAY_SECONDS = {twice:g}, but no more than "
            "the {after} messages published after the subscriber left, within 20%"
        ).format(model=model, twice=2 * rate * away, after=after),
        f"lost_if_away_twice = {show(guess)}",
        _(
            "At a steady rate the loss grows with the time away, until the subscriber has "
            "missed everything published after it left (at message COUNT // 3)."
        ),
    )
