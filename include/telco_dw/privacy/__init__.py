"""Personal data: what it looks like (``detect``), keyed tokens (``tokens``), scans of the warehouse
(``scan``). See docs/privacy.md."""
