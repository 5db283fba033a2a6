"""Nine-digit numbers: eight random payload digits and a Damm check digit."""

from typing import Callable

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

PAYLOAD_MIN = 10_000_000
PAYLOAD_MAX = 99_999_999


class NumberError(ValueError):
    """A number is malformed or its check digit is wrong."""


def check_digit(digits: str) -> str:
    """The Damm check digit of a string of decimal digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return str(interim)


def is_valid(number: str) -> bool:
    return (
        isinstance(number, str)
        and len(number) == 9
        and number.isascii()
        and number.isdigit()
        and number[0] != "0"
        and check_digit(number) == "0"
    )


def normalize(text: str) -> str:
    """Turn user input such as ``123 456-789`` into a valid number, or raise NumberError."""
    if not isinstance(text, str):
        raise NumberError("a number is nine digits")
    digits = "".join(ch for ch in text.strip() if ch not in " -\u00a0")
    if not (digits.isascii() and digits.isdigit()):
        raise NumberError("a number has only digits (spaces and dashes are ignored)")
    if len(digits) != 9:
        raise NumberError(f"a number has nine digits, this has {len(digits)}")
    if digits[0] == "0":
        raise NumberError("a number never starts with 0")
    if check_digit(digits) != "0":
        raise NumberError("wrong check digit: the number is mistyped")
    return digits


def new_number(randbelow: Callable[[int], int]) -> str:
    """A fresh random number; ``randbelow`` is ``secrets.randbelow`` outside tests."""
    payload = str(PAYLOAD_MIN + randbelow(PAYLOAD_MAX - PAYLOAD_MIN + 1))
    return payload + check_digit(payload)


def format_number(number: str) -> str:
    """``123456789`` → ``123 456 789`` for display."""
    return f"{number[0:3]} {number[3:6]} {number[6:9]}"
