import importlib.util
import pathlib

import pytest

from safemeet.core.callstate import END_TEXT, CallState, transition

GEN = pathlib.Path(__file__).parents[1] / "vectors" / "make_callstate_vectors.py"


def test_vector_file_is_current(vectors):
    spec = importlib.util.spec_from_file_location("gen", GEN)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert vectors("callstate.json") == {"cases": gen.cases()}


def _run(*events, role_start="idle"):
    state = CallState()
    actions = []
    for e in events:
        step = transition(state, e)
        state, actions = step.state, actions + list(step.actions)
    return state, actions


@pytest.mark.parametrize("events, phase, ended_by, reason", [
    (["dial", "accept_received", "media_connected", "hangup"], "ended", "local", "hangup"),
    (["dial", "accept_received", "media_connected", "hangup_received"], "ended", "remote", "hangup"),
    (["dial", "decline_received"], "ended", "remote", "declined"),
    (["dial", "busy_received"], "ended", "remote", "busy"),
    (["dial", "timeout"], "ended", "local", "no_answer"),
    (["dial", "cancel"], "ended", "local", "cancelled"),
    (["dial", "unknown_number"], "ended", "error", "unknown_number"),
    (["ring_received", "accept", "media_connected"], "connected", None, None),
    (["ring_received", "decline"], "ended", "local", "declined"),
    (["ring_received", "cancel_received"], "ended", "remote", "missed"),
    (["dial", "accept_received", "media_failed"], "ended", "error", "failed"),
])
def test_call_paths(events, phase, ended_by, reason):
    state, _ = _run(*events)
    assert (state.phase, state.ended_by, state.reason) == (phase, ended_by, reason)
    if reason:
        assert reason in END_TEXT


def test_every_end_wipes_and_closes_media():
    state, actions = _run("dial", "accept_received", "media_connected", "hangup")
    assert actions[-2:] == ["close_media", "wipe"] and "send_hangup" in actions


def test_events_after_end_do_nothing():
    state, _ = _run("dial", "decline_received")
    for event in ("accept_received", "hangup", "media_connected", "dial"):
        step = transition(state, event)
        assert step.state == state and step.actions == ()


def test_duplicate_accept_is_ignored():
    state, _ = _run("dial", "accept_received")
    assert transition(state, "accept_received").actions == ()


def test_unknown_event_raises():
    with pytest.raises(ValueError):
        transition(CallState(), "explode")


@pytest.mark.parametrize("events, phase, ended_by, reason", [
    (["dial", "accept_received", "media_connected", "media_lost", "media_connected"], "connected", None, None),
    (["ring_received", "accept", "media_connected", "restart_received", "media_connected"], "connected", None, None),
    (["dial", "accept_received", "media_connected", "media_lost", "timeout"], "ended", "error", "failed"),
    (["dial", "accept_received", "media_connected", "media_lost", "hangup_received"], "ended", "remote", "hangup"),
    (["ring_received", "accept", "media_connected", "media_lost", "hangup"], "ended", "local", "hangup"),
])
def test_reconnect_paths(events, phase, ended_by, reason):
    state, _ = _run(*events)
    assert (state.phase, state.ended_by, state.reason) == (phase, ended_by, reason)


def test_only_the_caller_offers_a_restart():
    _, caller = _run("dial", "accept_received", "media_connected", "media_lost", "media_lost")
    assert caller.count("restart_media") == 2 and "answer_restart" not in caller
    _, callee = _run("ring_received", "accept", "media_connected", "media_lost", "media_lost", "restart_received")
    assert "restart_media" not in callee and callee.count("answer_restart") == 1
    assert callee.count("start_reconnect_timer") == 1


def test_a_restart_offer_while_connecting_is_ignored():
    state, _ = _run("ring_received", "accept")
    step = transition(state, "restart_received")
    assert step.state == state and step.actions == ()
