"""The check that keeps personal data out of what the desk publishes.

Transparency reports, statements of reasons and the duty-of-care dossier are public (DSA Art. 24(5): "shall not
contain personal data"; issue 18: "user pseudonyms only, contact details never"). The exporters carry no
per-person field by construction — the report holds aggregates, the dossier claims and log references — so
personal data could only arrive in free text a person wrote (a provider's name, a claim's wording). This is
the last line: an e-mail address anywhere in the text or in a rendered file refuses the whole export, naming
where it was found, before anything is written.

Example:
    >>> check_public("Median time to action: 3 hours", field="claim")
    >>> check_public("ask alice@example.com", field="claim")
    Traceback (most recent call last):
    ...
    copyalign.errors.InvalidInputError: claim holds an e-mail address; publish pseudonyms only, contact details never
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from copyalign.errors import InvalidInputError

__all__ = ["check_public", "check_public_files"]

# Deliberately broad (any local@domain.tld, percent-encoded '@' included): a false alarm costs an edit, a miss
# publishes someone's address.
_EMAIL = re.compile(rb"[A-Za-z0-9._%+\-]+(?:@|%40|&#64;|&commat;)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def check_public(text: str, *, field: str) -> None:
    """InvalidInputError naming ``field`` when ``text`` holds an e-mail address."""
    if _EMAIL.search(text.encode("utf-8", "surrogatepass")):
        raise InvalidInputError(
            f"{field} holds an e-mail address; publish pseudonyms only, contact details never", field=field
        )


def check_public_files(files: Mapping[str, bytes]) -> None:
    """The same check over rendered files (the last look before they are written)."""
    for name, data in files.items():
        if _EMAIL.search(data):
            raise InvalidInputError(
                f"{name} would publish an e-mail address; publish pseudonyms only, contact details never", field=name
            )
