"""safemeet: private calls whose media and chat go straight between the participants."""

__version__ = "0.1.0"
