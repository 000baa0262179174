"""Tests for gru_core.progress: RunClock's pause accounting, throughput and ETA against a fake
clock whose readings the test sets by hand, and Progress.done."""
import pytest

from gru_core.progress import END_STATES, Progress, RunClock


class FakeTime:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_clock_before_start():
    clock = RunClock(FakeTime())
    assert not clock.started and clock.elapsed() == 0.0
    assert clock.throughput(50) == 0.0 and clock.eta(0, 10) is None


def test_pauses_are_not_run_time():
    now = FakeTime()
    clock = RunClock(now)
    clock.start()
    now.t = 103.0                      # 3 s running
    assert clock.elapsed() == 3.0
    clock.pause()
    now.t = 110.0                      # 7 s paused: not counted, also while the pause lasts
    assert clock.paused and clock.elapsed() == 3.0
    clock.pause()                      # a second pause changes nothing
    now.t = 111.0
    clock.resume()
    now.t = 113.0                      # 2 more seconds running
    assert not clock.paused and clock.elapsed() == 5.0
    clock.resume()                     # resume when not paused: ignored
    assert clock.elapsed() == 5.0
    assert clock.throughput(250) == 50.0
    assert clock.eta(step=10, total_steps=30) == pytest.approx(5.0 / 10 * 20)
    assert clock.eta(step=0, total_steps=30) is None
    assert clock.eta(step=40, total_steps=30) == 0.0


def test_stop_freezes_the_clock_and_closes_a_pause():
    now = FakeTime()
    clock = RunClock(now)
    clock.start()
    now.t = 104.0
    clock.pause()
    now.t = 108.0
    clock.stop()                       # stopped while paused: the pause ends there
    now.t = 200.0
    assert clock.elapsed() == 4.0 and clock.eta(1, 10) == 0.0
    clock.pause()                      # no pause after the end
    now.t = 300.0
    assert clock.elapsed() == 4.0 and clock.throughput(8) == 2.0


def test_start_is_once():
    now = FakeTime()
    clock = RunClock(now)
    clock.start()
    now.t = 102.0
    clock.start()
    assert clock.elapsed() == 2.0


def test_progress_done_and_defaults():
    assert not Progress().done and not Progress(state="paused").done
    assert all(Progress(state=s).done for s in END_STATES)
    p = Progress()
    assert p.unit == "windows" and p.threads == 0
    p.steps.append(1)
    assert Progress().steps == []      # no shared default lists
