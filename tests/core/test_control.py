"""core.control: the control channel's messages, against the vectors the browser suite reads too."""

from safemeet.core.control import encode_control, parse_control


def test_vectors(vectors):
    data = vectors("control.json")
    for text, parsed in data["valid"]:
        assert parse_control(text) == parsed, text
    for text in data["invalid"]:
        assert parse_control(text) is None, text


def test_encoded_messages_parse_back():
    for kind, on in (("ping", None), ("hangup", None), ("screen", True), ("screen", False)):
        text = encode_control(kind, on)
        assert parse_control(text) == ({"t": kind} if on is None else {"t": kind, "on": on})
    assert encode_control("screen", True) == '{"t":"screen","on":true}'


def test_bytes_are_not_control_messages():
    assert parse_control(b'{"t":"ping"}') is None
