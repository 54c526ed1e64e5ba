"""Pushing and pulling: ingest of pushed ops and protocols sent whole, the writers' turn, the op
log, and the pages a device pulls."""
