"""Mutation testing of the shared core: the score of a run and the equivalent mutants."""
