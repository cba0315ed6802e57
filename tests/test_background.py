"""The registry and the Worker base class every background thread of the pack uses."""

from __future__ import annotations

from helpers import background


class Ticker(background.Worker):
    """Counts until stopped; records when it was closed."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.ticks = 0
        self.closed_after_thread = None

    def run(self) -> None:
        while not self.stopping.wait(0.01):
            self.ticks += 1

    def close(self) -> None:
        self.closed_after_thread = not self.thread.is_alive()

    def describe(self) -> str:
        return f"{self.ticks} ticks"


def test_a_worker_runs_until_stopped_then_closes_after_its_thread_ended() -> None:
    ticker = Ticker("ticker").start()
    assert ticker.running and "running" in repr(ticker)
    ticker.stop()
    assert not ticker.running
    assert ticker.closed_after_thread is True
    assert repr(ticker).startswith("<Ticker 'ticker' stopped, ")
    ticker.stop()  # twice is safe


def test_a_worker_never_started_stops_without_waiting() -> None:
    ticker = Ticker("never started")
    ticker.stop(timeout=0)
    assert ticker.closed_after_thread is True


def test_replace_stops_the_old_one_before_the_new_one_starts() -> None:
    order: list[str] = []

    class Noted(Ticker):
        def start(self) -> Noted:
            order.append(f"start {self.name}")
            return super().start()

        def close(self) -> None:
            order.append(f"stop {self.name}")

    background.replace("the ticker", lambda: Noted("one").start())
    second = background.replace("the ticker", lambda: Noted("two").start())
    assert order == ["start one", "stop one", "start two"]
    assert background.stop("the ticker") and not second.running
    assert "the ticker" not in background.running()


def test_a_worker_may_stop_itself_from_its_own_thread() -> None:
    class Once(Ticker):
        def run(self) -> None:
            self.stop()

    once = Once("stops itself").start()
    assert once.join(timeout=5)
    assert once.closed_after_thread is False  # closed from inside, while its thread still ran
