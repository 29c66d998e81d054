from tests.support.mosquitto import mosquitto, mosquitto_url  # noqa: F401  (fixtures by name)
