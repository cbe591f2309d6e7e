"""The retry schedule shared by every retry loop."""

from checkpoint.backoff import Backoff


def test_doubles_up_to_the_cap_and_starts_again_after_reset():
    backoff = Backoff(cap=1.0, first=0.1)
    assert [round(backoff.next(), 3) for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next() == 0.1


def test_a_cap_below_the_first_delay_is_raised_to_it():
    backoff = Backoff(cap=0.05, first=0.2)
    assert [backoff.next() for _ in range(3)] == [0.2, 0.2, 0.2]
