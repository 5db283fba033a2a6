import json
import pathlib

import pytest

VECTORS = pathlib.Path(__file__).parent / "vectors"


def load_vectors(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture
def vectors():
    return load_vectors
