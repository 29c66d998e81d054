from tests.support.mosquitto import mosquitto  # noqa: F401  (fixtures by name)
