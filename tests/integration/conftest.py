"""Fixtures shared by the integration tests."""

import pytest

from telco_dw.load import batch as batch_mod


@pytest.fixture
def paths(monkeypatch):
    """Which paths of ``land_batch`` landed each batch, in the order they returned: 'fast' (typed
    COPY), 'stage' (COPY of the bytes as text), 'rows' (parsed rows through ``write_row``)."""
    taken: list[str] = []
    for name, label in (("_copy_typed", "fast"), ("_copy_csv", "stage"), ("_copy_rows", "rows")):
        real = getattr(batch_mod, name)

        def spy(*args, _real=real, _label=label):
            result = _real(*args)
            if result is not None:
                taken.append(_label)
            return result

        monkeypatch.setattr(batch_mod, name, spy)
    return taken
