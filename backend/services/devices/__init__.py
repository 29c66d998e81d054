"""Telling instruments what to do: the command outbox (lock, unlock, setpoints) and its acknowledgements."""
