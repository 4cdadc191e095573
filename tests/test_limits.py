"""Flow control: the adaptive concurrency Limiter and the sliding-window Pacer (fake time)."""

from __future__ import annotations

import asyncio

import pytest

from gh_jobs_async import PrimaryRateLimitError
from gh_jobs_async._limits import BudgetSettings, Limiter, LocalBudget, Pacer

WINDOW = 60.0
MARGIN = 1.0


class FakeTime:
    """A clock that only moves when someone sleeps: ``sleep(d)`` returns at once, ``d`` later.

    Concurrent sleepers each move the clock to at least their own wake-up time, so a
    sleep never returns before its deadline, and the clock never goes backwards.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        deadline = self.now + max(delay, 0.0)
        await asyncio.sleep(0)
        self.now = max(self.now, deadline)


@pytest.fixture(name="fake")
def fixture_fake() -> FakeTime:
    """A fresh fake clock and sleep."""
    return FakeTime()


def _pacer(budget: int | None, fake: FakeTime) -> Pacer:
    return Pacer(budget, clock=fake.clock, sleep=fake.sleep, window=WINDOW, margin=MARGIN)


async def _settle(rounds: int = 10) -> None:
    """Let every ready task run until it blocks."""
    for _ in range(rounds):
        await asyncio.sleep(0)


# --------------------------------------------------------------------------- Limiter


async def test_limiter_never_exceeds_its_limit() -> None:
    """Many concurrent holders: never more than `limit` in flight, and the limit is reached."""
    limiter = Limiter(3)
    observed: list[int] = []

    async def work() -> None:
        await limiter.acquire()
        try:
            observed.append(limiter.in_flight)
            await _settle(3)
        finally:
            limiter.release()

    async with asyncio.TaskGroup() as group:
        for _ in range(25):
            group.create_task(work())

    assert max(observed) == 3
    assert limiter.peak == 3
    assert limiter.in_flight == 0


async def _queue_waiters(
    limiter: Limiter, count: int
) -> tuple[list[int], list[asyncio.Task[None]]]:
    """Take the limiter's only slot, then queue ``count`` waiters in order.

    Each waiter records its number in the returned list once it gets the slot,
    and hands the slot on.
    """
    await limiter.acquire()
    order: list[int] = []

    async def waiter(n: int) -> None:
        await limiter.acquire()
        order.append(n)
        limiter.release()

    tasks = []
    for n in range(count):
        tasks.append(asyncio.create_task(waiter(n)))
        await asyncio.sleep(0)  # queue it before the next one arrives
    return order, tasks


async def test_limiter_is_first_come_first_served() -> None:
    """Waiters get their slots in arrival order."""
    limiter = Limiter(1)
    order, tasks = await _queue_waiters(limiter, 10)
    limiter.release()
    await asyncio.gather(*tasks)

    assert order == list(range(10))


async def test_newcomer_does_not_overtake_a_waiter() -> None:
    """A slot freed while someone waits goes to the waiter, not to a later caller."""
    limiter = Limiter(1)
    await limiter.acquire()
    order: list[str] = []

    async def take(name: str) -> None:
        await limiter.acquire()
        order.append(name)
        await _settle(2)
        limiter.release()

    first = asyncio.create_task(take("waiter"))
    await _settle()
    limiter.release()
    second = asyncio.create_task(take("newcomer"))
    await asyncio.gather(first, second)

    assert order == ["waiter", "newcomer"]


def test_shrink_halves_down_to_one() -> None:
    """Each secondary limit halves the limit, never below 1."""
    limiter = Limiter(8)
    limits = []
    for _ in range(5):
        limiter.shrink()
        limits.append(limiter.limit)

    assert limits == [4, 2, 1, 1, 1]
    assert limiter.maximum == 8


async def test_shrink_holds_back_new_requests_until_under_the_new_limit() -> None:
    """After a shrink with 8 in flight, a new request waits until fewer than 4 are."""
    limiter = Limiter(8)
    for _ in range(8):
        await limiter.acquire()
    limiter.shrink()
    waiter = asyncio.create_task(limiter.acquire())

    for _ in range(4):
        limiter.release()
        await _settle()
        assert not waiter.done()
    limiter.release()  # now 3 in flight: the waiter fits under 4
    await asyncio.wait_for(waiter, 1)

    assert limiter.in_flight == 4


def test_succeeded_recovers_gradually_up_to_the_maximum() -> None:
    """After a shrink, `limit` successes in a row allow one more slot, up to the maximum."""
    limiter = Limiter(8)
    limiter.shrink()  # 4
    for _ in range(3):
        limiter.succeeded()
    assert limiter.limit == 4
    limiter.succeeded()
    assert limiter.limit == 5
    for _ in range(100):
        limiter.succeeded()

    assert limiter.limit == 8


def test_a_shrink_restarts_the_recovery_count() -> None:
    """Successes before a new shrink do not count towards growing back."""
    limiter = Limiter(8)
    limiter.shrink()  # 4
    for _ in range(3):
        limiter.succeeded()
    limiter.shrink()  # 2
    limiter.succeeded()
    assert limiter.limit == 2
    limiter.succeeded()
    assert limiter.limit == 3


async def test_growing_limit_wakes_a_waiter() -> None:
    """When recovery adds a slot, a waiting request gets it without any release."""
    limiter = Limiter(2)
    limiter.shrink()  # 1
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await _settle()
    assert not waiter.done()

    limiter.succeeded()  # limit back to 2
    await asyncio.wait_for(waiter, 1)

    assert limiter.in_flight == 2


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    """A waiter cancelled while queued takes no slot; the next caller gets it at once."""
    limiter = Limiter(1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await _settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

    limiter.release()
    assert limiter.in_flight == 0
    await asyncio.wait_for(limiter.acquire(), 1)
    assert limiter.in_flight == 1


async def test_waiter_cancelled_just_after_being_granted_returns_the_slot() -> None:
    """A waiter cancelled after its slot was granted, before it ran, gives the slot back."""
    limiter = Limiter(1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await _settle()

    limiter.release()  # grants the slot to the waiter...
    assert limiter.in_flight == 1
    waiter.cancel()  # ...which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await waiter

    assert limiter.in_flight == 0
    await asyncio.wait_for(limiter.acquire(), 1)
    assert limiter.in_flight == 1


async def test_cancelled_waiter_in_the_middle_keeps_fifo_for_the_rest() -> None:
    """Cancelling one waiter among several neither loses nor reorders the others."""
    limiter = Limiter(1)
    order, tasks = await _queue_waiters(limiter, 4)
    tasks[1].cancel()
    limiter.release()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert order == [0, 2, 3]
    assert isinstance(results[1], asyncio.CancelledError)
    assert limiter.in_flight == 0


def test_limiter_repr_summarises_state() -> None:
    """The repr says how many are in flight of how many allowed."""
    assert repr(Limiter(10)) == "<Limiter 0/10 in flight (max 10)>"


# --------------------------------------------------------------------------- Pacer


async def test_pacer_costs_nothing_until_the_budget_is_used(fake: FakeTime) -> None:
    """The first `budget` requests go out at once: no sleep, no time passes."""
    pacer = _pacer(900, fake)
    start = fake.now

    for _ in range(900):
        assert await pacer.acquire() == 0.0
        pacer.release()

    assert fake.sleeps == []
    assert fake.now == start
    assert pacer.used() == 900


async def test_pacer_burst_in_flight_costs_nothing(fake: FakeTime) -> None:
    """A burst of `budget` concurrent requests is not trickled: all start immediately."""
    pacer = _pacer(50, fake)

    waited = await asyncio.gather(*(pacer.acquire() for _ in range(50)))

    assert waited == [0.0] * 50
    assert fake.sleeps == []


async def test_pacer_request_over_budget_waits_a_window_after_the_oldest(fake: FakeTime) -> None:
    """Request budget+1 waits until the oldest answer is `window + margin` seconds old."""
    pacer = _pacer(5, fake)
    for _ in range(5):
        await pacer.acquire()
        fake.now += 2.0  # each answer takes 2 s
        pacer.release()
    first_answer = 1_000.0 + 2.0

    waited = await pacer.acquire()

    assert fake.sleeps, "the sixth request must wait"
    assert fake.now >= first_answer + WINDOW + MARGIN
    assert fake.now == pytest.approx(first_answer + WINDOW + MARGIN)
    assert waited == pytest.approx(first_answer + WINDOW + MARGIN - 1_010.0)


async def test_pacer_waits_for_an_answer_when_the_whole_budget_is_in_flight(
    fake: FakeTime,
) -> None:
    """With the whole budget in flight, the next request waits for an answer, then a window."""
    pacer = _pacer(2, fake)
    await pacer.acquire()
    await pacer.acquire()
    third = asyncio.create_task(pacer.acquire())
    await _settle()
    assert not third.done()

    fake.now += 5.0
    answered_at = fake.now
    pacer.release()
    await asyncio.wait_for(third, 1)

    assert fake.now >= answered_at + WINDOW + MARGIN


@pytest.mark.parametrize(("budget", "workers", "requests"), [(10, 5, 45), (7, 20, 40), (3, 1, 10)])
async def test_no_window_holds_more_than_the_budget(
    fake: FakeTime, budget: int, workers: int, requests: int
) -> None:
    """Whatever the concurrency, no 61 s window (60 s + margin) holds more than `budget` sends."""
    pacer = _pacer(budget, fake)
    sent: list[float] = []
    queue = list(range(requests))

    async def worker() -> None:
        while queue:
            queue.pop()
            await pacer.acquire()
            sent.append(fake.clock())
            await fake.sleep(0.3)  # latency
            pacer.release()

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())

    assert len(sent) == requests
    sent.sort()
    for i, start in enumerate(sent):
        in_window = [t for t in sent[i:] if t < start + WINDOW + MARGIN]
        assert len(in_window) <= budget, (start, in_window)
    # ...and it is not slower than it needs to be: one window per budget's worth, plus latency.
    refills = (requests - 1) // budget
    assert sent[-1] - sent[0] >= refills * (WINDOW + MARGIN)
    assert sent[-1] - sent[0] <= refills * (WINDOW + MARGIN + 0.3 * 2) + 1.0


async def test_pacer_none_means_no_pacing(fake: FakeTime) -> None:
    """budget=None never waits and counts nothing."""
    pacer = _pacer(None, fake)

    for _ in range(10_000):
        assert await pacer.acquire() == 0.0
    for _ in range(10_000):
        pacer.release()

    assert fake.sleeps == []
    assert pacer.used() == 0


async def test_pacer_window_expires(fake: FakeTime) -> None:
    """Answers older than window + margin no longer count."""
    pacer = _pacer(3, fake)
    for _ in range(3):
        await pacer.acquire()
        pacer.release()
    assert pacer.used() == 3

    fake.now += WINDOW + MARGIN

    assert pacer.used() == 0
    assert await pacer.acquire() == 0.0
    assert fake.sleeps == []


async def test_cancelled_pacer_wait_takes_nothing(fake: FakeTime) -> None:
    """A request cancelled while waiting for the pacer uses none of the budget."""
    pacer = _pacer(1, fake)
    await pacer.acquire()
    waiter = asyncio.create_task(pacer.acquire())
    await _settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

    assert pacer.used() == 1


async def test_refusals_of_a_burst_cap_regrowth_at_the_servers_tolerance() -> None:
    """32 in flight with 12 refused: the limit halves and never regrows past 20 quickly."""
    limiter = Limiter(32)
    for _ in range(32):
        await limiter.acquire()
    for number in range(12):
        limiter.release()  # the refused request's slot comes back before its answer is read
        limiter.refused(fresh=number == 0)
    for _ in range(20):
        limiter.release()
    assert limiter.limit == 16
    assert limiter.ceiling == 20
    for _ in range(16 + 17 + 18 + 19):  # one slot per `limit` successes
        limiter.succeeded()
    assert limiter.limit == 20
    for _ in range(199):
        limiter.succeeded()
    assert (limiter.limit, limiter.ceiling) == (20, 20)
    limiter.succeeded()  # the ceiling relaxes only after 10 x 20 successes at it
    assert limiter.ceiling == 21


# --------------------------------------------------------------------------- give_back


async def test_pacer_give_back_takes_the_request_out_of_the_window(fake: FakeTime) -> None:
    """A request never sent leaves the window at once; a released one stays counted."""
    pacer = _pacer(2, fake)
    await pacer.acquire()
    await pacer.acquire()
    pacer.give_back()
    pacer.release()
    assert pacer.used() == 1


async def test_pacer_give_back_wakes_a_waiter_when_the_whole_budget_was_in_flight(
    fake: FakeTime,
) -> None:
    """With the whole budget in flight, a give-back lets the next request go without a wait."""
    pacer = _pacer(1, fake)
    await pacer.acquire()
    waiting = asyncio.create_task(pacer.acquire())
    await _settle()
    assert not waiting.done()
    pacer.give_back()
    assert await asyncio.wait_for(waiting, 1) == 0.0


def _local(fake: FakeTime, maximum: int = 1, rpm: int | None = 1) -> LocalBudget:
    return LocalBudget(
        BudgetSettings(
            identity="local",
            api_url="https://api.github.com",
            max_concurrency=maximum,
            requests_per_minute=rpm,
            max_rate_limit_wait=10.0,
            clock=fake.clock,
            monotonic=fake.clock,
            sleep=fake.sleep,
        )
    )


async def test_local_budget_give_back_frees_the_slot_and_the_window(fake: FakeTime) -> None:
    """LocalBudget.give_back: the slot is free and the window has room again at once."""
    budget = _local(fake)
    await budget.give_back(await budget.acquire())
    before = fake.now
    grant = await asyncio.wait_for(budget.acquire(), 1)
    assert fake.now == before  # no wait for a window
    await budget.release(grant)
    assert budget.pacer.used() == 1


async def test_a_local_grant_refused_by_a_later_gate_is_not_counted(fake: FakeTime) -> None:
    """Queued behind the limiter, then refused by a primary budget spent meanwhile: the
    request was never sent, so it leaves no trace in the window."""
    budget = _local(fake, maximum=1, rpm=2)
    first = await budget.acquire()
    second = asyncio.create_task(budget.acquire())
    await _settle()
    await budget.primary(0, fake.now + 3600)  # past max_rate_limit_wait
    await budget.release(first)
    with pytest.raises(PrimaryRateLimitError):
        await asyncio.wait_for(second, 1)
    assert budget.pacer.used() == 1  # only the first request, which was sent
    assert budget.limiter.in_flight == 0
