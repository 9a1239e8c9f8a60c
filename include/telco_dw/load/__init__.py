"""Landing: COPY-based loads into ``raw_<source>`` tables, recorded in the batch ledger."""
