from tests.support.influxdb import influxdb, influxdb_module  # noqa: F401
from tests.support.ingest import ingest_options, ingest_site  # noqa: F401
from tests.support.mosquitto import mosquitto, mosquitto_module  # noqa: F401
