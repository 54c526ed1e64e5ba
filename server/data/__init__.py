"""The registry's database and what it keeps: engines and transactions, tables and migrations, WAL
checkpoints, the template catalog, reference data and its import, and the registry's queries."""
