"""What a device declares about itself in its birth message."""

from backend.domain.devices import declared_names


def test_declared_setpoints_are_read_with_their_units() -> None:
    text = "temperature_sp_c[°C],agitation_sp_rpm[rpm], ph_sp[pH],bare"
    assert declared_names(text) == {
        "temperature_sp_c": "°C",
        "agitation_sp_rpm": "rpm",
        "ph_sp": "pH",
        "bare": "",
    }
    assert declared_names("") == {} and declared_names(None) == {} and declared_names(3) == {}
