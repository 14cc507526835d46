"""Replay: re-execute a traced run with every nondeterministic boundary answered from its trace."""
