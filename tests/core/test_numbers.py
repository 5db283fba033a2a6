import random

import pytest

from safemeet.core.numbers import NumberError, check_digit, format_number, is_valid, new_number, normalize


def test_damm_reference_value():
    assert check_digit("572") == "4"
    assert check_digit("5724") == "0"


def test_new_numbers_are_valid_and_never_start_with_zero():
    rng = random.Random(7)
    numbers = {new_number(rng.randrange) for _ in range(2000)}
    assert all(is_valid(n) and n[0] != "0" and len(n) == 9 for n in numbers)
    assert len(numbers) == 2000


def test_every_single_digit_typo_is_caught():
    number = new_number(random.Random(1).randrange)
    for i in range(9):
        for d in "0123456789":
            if d != number[i]:
                assert not is_valid(number[:i] + d + number[i + 1:])


def test_every_adjacent_swap_is_caught():
    number = new_number(random.Random(2).randrange)
    for i in range(8):
        swapped = number[:i] + number[i + 1] + number[i] + number[i + 2:]
        if swapped != number:
            assert not is_valid(swapped)


@pytest.mark.parametrize("text, why", [
    ("12345678", "nine digits"),
    ("1234567890", "nine digits"),
    ("012345678", "starts with 0"),
    ("12345678a", "only digits"),
    ("123456789", "check digit"),
    ("١٢٣٤٥٦٧٨٦", "only digits"),
])
def test_normalize_rejects_with_clear_message(text, why):
    with pytest.raises(NumberError, match=why):
        normalize(text)


def test_normalize_accepts_spaces_and_dashes():
    assert normalize(" 123 456-786 ") == "123456786"
    assert format_number("123456786") == "123 456 786"


def test_shared_vectors(vectors):
    data = vectors("damm.json")
    for case in data["check_digits"]:
        assert check_digit(case["payload"]) == case["check"]
    assert all(is_valid(n) for n in data["valid"])
    for case in data["normalize"]:
        assert normalize(case["input"]) == case["output"]
    for case in data["invalid"]:
        assert not is_valid(case["input"])
        with pytest.raises(NumberError):
            normalize(case["input"])
