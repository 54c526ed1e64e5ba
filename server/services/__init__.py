"""What the registry does for people, one module a concern: the JSON API and the console's
pages call the same functions here, so no rule or query is written twice."""

__all__: list[str] = []
