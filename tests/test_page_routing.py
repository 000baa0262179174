"""Every page that trains goes through the server's scheduler (AppTest): with every training slot
taken by other sessions, a Text, Compare or Lab run waits in line and does not train, is one of
this session's scheduler jobs, and trains once a slot frees; a second Start while the session has
another job asks first, then stops that job; the limits are stated before Start; a reload brings
a finished text run back to its own session only."""
from __future__ import annotations

import time

import pytest

from apptest_helpers import assert_no_failures, open_page
from test_page_lab import _job
from test_page_reload import address, reopen
from test_page_text import TINY, open_text, wait_done
from test_scheduler import FakeSpec
from ui import server

TOKEN = "_session_token"


def _settle(sched, timeout=120.0):
    """Wait until no job of an earlier test is running (the slots are the process's)."""
    deadline = time.monotonic() + timeout
    while sched.stats()["running"] or sched.stats()["queued"]:
        assert time.monotonic() < deadline, f"jobs of earlier tests still going: {sched.stats()}"
        time.sleep(0.2)
        sched.tick()


@pytest.fixture
def full():
    """The server's scheduler with every slot taken by other sessions' (fake) runs; yields
    (scheduler, release) -- release() ends those runs."""
    sched = server.scheduler()
    _settle(sched)
    blockers = [sched.submit(f"other-session-{i}", FakeSpec()) for i in range(sched.max_running)]
    sched.tick()
    assert all(h.state == "running" for h in blockers)

    def release():
        for h in blockers:
            h.stop()
        sched.tick()

    yield sched, release
    release()


def _infos(at) -> str:
    return " ".join(i.value for i in at.info)


def test_a_text_run_waits_in_line_while_the_slots_are_full_then_trains(full):
    sched, release = full
    at = open_text(TINY)
    assert any("Server limits" in c.value for c in at.caption)        # stated before Start
    at.button(key="text_btn_start").click().run()
    assert_no_failures(at)
    j = at.session_state["text_job"]
    assert sched.session_jobs(at.session_state[TOKEN]) == [j.run]
    assert j.run.state == "queued" and j.run.run is None
    assert "in line" in _infos(at) and "Waiting for a training slot" in _infos(at)
    assert not at.get("plotly_chart")                                 # no perplexity curve yet
    time.sleep(1.0)
    at.run()
    assert j.run.state == "queued" and j.run.snapshot().step == 0    # it does not train
    assert at.button(key="text_btn_stop").disabled is False           # ... but can be cancelled
    release()
    wait_done(at)
    assert_no_failures(at)
    p = j.run.snapshot()
    assert p.step > 0 and any("Time budget used up" in s.value for s in at.success)
    assert not sched.session_jobs(at.session_state[TOKEN])


def test_a_second_text_start_asks_then_stops_the_sessions_other_job():
    sched = server.scheduler()
    _settle(sched)
    at = open_text(TINY)
    other = sched.submit(at.session_state[TOKEN], FakeSpec(), label="a run on another page")
    at.button(key="text_btn_start").click().run()
    assert "text_job" not in at.session_state
    assert any("already has a run going" in e.value for e in at.error)
    assert other.running
    at.button(key="text_btn_start").click().run()                     # again: replace it
    assert_no_failures(at)
    assert not other.running and "another run" in other.peek().reason
    j = at.session_state["text_job"]
    assert sched.session_jobs(at.session_state[TOKEN]) == [j.run]
    wait_done(at)


def test_a_text_run_too_big_for_the_server_cannot_start():
    sched = server.scheduler()
    old = sched.config.max_work
    sched.config.max_work = 1e3
    try:
        at = open_text(TINY)
        assert any("Too big for this server" in w.value for w in at.warning)
        assert at.button(key="text_btn_start").disabled
    finally:
        sched.config.max_work = old


def _small_compare(at, mode: str):
    for key, value in (("cmp_length", 300), ("cmp_delay", 5), ("cmp_lookback", 8),
                       ("cmp_hidden", 4), ("cmp_epochs", 1)):
        at.number_input(key=key).set_value(value).run()
    at.segmented_control(key="cmp_mode").set_value(mode).run()


def test_compare_one_after_another_is_one_queue_entry_all_at_once_one_per_cell(full):
    from gru_core.model import CELLS

    sched, release = full
    at = open_page("pages/compare.py")
    _small_compare(at, "sequential")
    assert any("Server limits" in c.value for c in at.caption)
    at.button(key="cmp_start").click().run()
    assert_no_failures(at)
    job = at.session_state["compare_job"]
    tok = at.session_state[TOKEN]
    assert sched.session_jobs(tok) == job.jobs and len(job.jobs) == 1
    assert "in line" in _infos(at)
    assert {p.state for p in job.snapshots().values()} == {"queued"}
    at.button(key="cmp_stop").click().run()                           # cancelled while queued
    assert not job.running and not sched.session_jobs(tok)

    _small_compare(at, "parallel")
    at.button(key="cmp_start").click().run()
    assert_no_failures(at)
    job = at.session_state["compare_job"]
    assert sched.session_jobs(tok) == job.jobs and len(job.jobs) == len(CELLS)
    assert "in line" in _infos(at)
    release()
    assert job.join(timeout=120)
    assert {p.state for p in job.snapshots().values()} == {"finished"}


def test_a_lab_replay_waits_in_line_and_then_records_its_tape(full):
    sched, release = full
    at = open_page("pages/lab.py", _job())
    at.button(key="lab_record").click().run()
    assert_no_failures(at)
    bg = at.session_state["_lab_bg"]
    assert sched.session_jobs(at.session_state[TOKEN]) == [bg["run"]]
    assert bg["run"].state == "queued" and len(bg["tape"]) == 0
    assert "in line" in _infos(at)
    release()
    assert bg["run"].join(timeout=120)
    at.run()
    at.run()
    assert_no_failures(at)
    rec = at.session_state["runs_history"].runs()[-1]
    assert rec.tape is bg["tape"] and rec.tape.epochs() == [0, 1, 2, 3]


def test_a_reload_restores_the_finished_text_run_to_its_own_session_only():
    sched = server.scheduler()
    _settle(sched)
    at = open_text(TINY)
    at.button(key="text_btn_start").click().run()
    wait_done(at)
    j = at.session_state["text_job"]
    url = address(at)

    again = reopen(url, "pages/text.py")                              # F5
    assert_no_failures(again)
    assert again.session_state["text_job"] is j
    assert any("Time budget used up" in s.value for s in again.success)

    fresh = reopen({k: v for k, v in url.items() if k != "s"}, "pages/text.py")   # no token
    assert "text_job" not in fresh.session_state

    # a record holding another session's job is not restored into this one
    rec = server.store().get(url["s"])
    foreign = sched.submit("someone-else", FakeSpec())
    rec.extra["_lab_bg"] = {"run": foreign, "tape": None, "note": "", "source": ""}
    third = reopen({"s": url["s"]}, "pages/lab.py")
    assert not third.exception
    assert "_lab_bg" not in third.session_state
    foreign.stop()
    sched.tick()


def test_the_data_page_rebuilds_its_figures_only_when_their_inputs_change():
    import json

    def figures(at):
        return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]

    at = open_page("pages/data.py")
    assert_no_failures(at)
    first = figures(at)
    held = dict(at.session_state["_data_figures"])
    assert len(first) == 2 and len(held) == 2
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/data.py").run()
    assert figures(at) == first                                       # the same figures ...
    assert all(at.session_state["_data_figures"][k] is f for k, f in held.items())   # ... not rebuilt
    at.session_state["lookback"] = int(at.session_state["lookback"]) + 4
    at.run()
    assert_no_failures(at)
    after = figures(at)
    assert after != first                                             # a longer window is drawn
    assert len(at.session_state["_data_figures"]) <= 4


def test_the_clipping_experiment_waits_in_line_and_then_shows_the_runs_numbers(full):
    import json

    from gru_core.gradients import clipping_experiment
    from gru_core.model import ModelConfig

    sched, release = full
    at = open_page("pages/compare.py")
    at.number_input(key="cmp_length").set_value(300).run()
    at.button(key="cmp_explode_run").click().run()
    assert_no_failures(at)
    _, h = at.session_state["_cmp_explode"]
    assert sched.session_jobs(at.session_state[TOKEN]) == [h] and h.state == "queued"
    assert "Clipping experiment:" in _infos(at) and "in line" in _infos(at)
    release()
    assert h.join(timeout=120)
    at.run()
    assert_no_failures(at)
    fig = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
           if "clipping" in json.loads(c.proto.spec)["layout"]["title"]["text"]][0]
    spec = h.spec
    free, clipped = clipping_experiment(
        spec.X, spec.Y, ModelConfig(input_size=1, hidden_size=16, num_layers=1, horizon=1,
                                    cell="rnn"), lr=0.5, gain=2.0, clip=1.0, steps=60, seed=0)
    from test_page_compare import _array
    shown = [tr for tr in fig["data"] if tr["name"] == "clipped to norm 1"
             and tr.get("yaxis", "y") == "y"][0]
    assert list(_array(shown["y"])) == clipped.grad_norm
