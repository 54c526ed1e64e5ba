"""What every route shares: who is calling and the guards, problem details, bounded parameters,
the OpenAPI document, request ids and the client's address."""
