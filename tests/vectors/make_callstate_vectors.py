"""Writes callstate.json: every (phase, role, event) and what the Python machine does with it.

Run from the repository root: ``python tests/vectors/make_callstate_vectors.py``. The JS suite
checks its own machine against this file; the pytest suite checks the file is current.
"""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "src"))

from safemeet.core.callstate import EVENTS, PHASES, ROLES, CallState, transition  # noqa: E402


def cases() -> list[dict]:
    out = []
    for phase in PHASES:
        for role in ROLES:
            for event in EVENTS:
                start = CallState(phase, role) if phase != "ended" else CallState(phase, role, "local", "hangup")
                step = transition(start, event)
                out.append({
                    "phase": start.phase, "role": start.role, "ended_by": start.ended_by, "reason": start.reason,
                    "event": event,
                    "expect": {
                        "phase": step.state.phase, "role": step.state.role,
                        "ended_by": step.state.ended_by, "reason": step.state.reason,
                        "actions": list(step.actions),
                    },
                })
    return out


def render() -> str:
    return json.dumps({"cases": cases()}, indent=1) + "\n"


if __name__ == "__main__":
    (pathlib.Path(__file__).parent / "callstate.json").write_text(render())
