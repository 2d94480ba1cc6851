"""CF standard names of derived quantities.

A derivative gets a ``standard_name`` only where the CF standard-name table (version 80) has
one for exactly that quantity, and only when its units are of that quantity's kind (a curl of
winds over longitude/latitude in degrees is not a vorticity, per second; over metres it is).
Everything else gets no standard name: a field's own is never copied onto its derivative.

The table entries used here, each checked against the table:

* ``tendency_of_X`` ("derivative of X with respect to time") for the names ``X`` in
  :data:`TENDENCY_OF`;
* divergence and (upward) curl of horizontal velocity vectors, :data:`VECTOR_NAMES`;
* ``tendency_of_X_due_to_advection`` for the names ``X`` in :data:`ADVECTED` (the advection term
  of X's tendency: ``-u·∇X``, per second).
  ``atmosphere_upward_relative_vorticity`` is the table's entry; ``atmosphere_relative_vorticity``
  is its alias.
"""

from __future__ import annotations

from collections.abc import Sequence

from .units import divide_units, same_dimension

__all__ = [
    "ADVECTED",
    "TENDENCY_OF",
    "VECTOR_NAMES",
    "advection_standard_name",
    "tendency_standard_name",
    "vector_standard_name",
]

#: standard names X for which the table has ``tendency_of_X``
TENDENCY_OF = frozenset(
    {
        "air_density",
        "air_pressure",
        "air_temperature",
        "atmosphere_dry_energy_content",
        "atmosphere_mass_content_of_water_vapor",
        "atmosphere_mass_per_unit_area",
        "bedrock_altitude",
        "change_in_land_ice_amount",
        "dry_energy_content_of_atmosphere_layer",
        "dry_static_energy_content_of_atmosphere_layer",
        "eastward_wind",
        "global_average_sea_level_change",
        "land_ice_mass",
        "land_ice_thickness",
        "mass_content_of_water_vapor_in_atmosphere_layer",
        "mass_fraction_of_cloud_condensed_water_in_air",
        "mass_fraction_of_cloud_ice_in_air",
        "mass_fraction_of_cloud_liquid_water_in_air",
        "mass_fraction_of_convective_cloud_ice_in_air",
        "mass_fraction_of_convective_cloud_liquid_water_in_air",
        "mass_fraction_of_stratiform_cloud_ice_in_air",
        "mass_fraction_of_stratiform_cloud_liquid_water_in_air",
        "northward_wind",
        "ocean_barotropic_streamfunction",
        "sea_surface_height_above_mean_sea_level",
        "sea_water_potential_temperature_expressed_as_heat_content",
        "sea_water_salinity",
        "sea_water_temperature",
        "specific_humidity",
        "surface_air_pressure",
        "surface_snow_amount",
        "upward_air_velocity",
    }
)

#: (standard name of the first horizontal component, of the second) -> {operation: standard name};
#: the first component points east (or along x), the second north (or along y). All are per second.
VECTOR_NAMES: dict[tuple[str, str], dict[str, str]] = {
    ("eastward_wind", "northward_wind"): {
        "divergence": "divergence_of_wind",
        "curl": "atmosphere_upward_relative_vorticity",
    },
    ("x_wind", "y_wind"): {"divergence": "divergence_of_wind", "curl": "atmosphere_upward_relative_vorticity"},
    ("eastward_sea_water_velocity", "northward_sea_water_velocity"): {"curl": "ocean_relative_vorticity"},
    ("sea_water_x_velocity", "sea_water_y_velocity"): {"curl": "ocean_relative_vorticity"},
    ("eastward_sea_ice_velocity", "northward_sea_ice_velocity"): {"divergence": "divergence_of_sea_ice_velocity"},
    ("sea_ice_x_velocity", "sea_ice_y_velocity"): {"divergence": "divergence_of_sea_ice_velocity"},
}
_VECTOR_UNITS = "s-1"  # the canonical units of every name in VECTOR_NAMES

#: standard names X of fields for which the table has ``tendency_of_X_due_to_advection`` (X per second)
ADVECTED = frozenset(
    {
        "air_temperature",
        "eastward_wind",
        "mass_fraction_of_cloud_condensed_water_in_air",
        "mass_fraction_of_cloud_ice_in_air",
        "mass_fraction_of_cloud_liquid_water_in_air",
        "mass_fraction_of_stratiform_cloud_condensed_water_in_air",
        "mass_fraction_of_stratiform_cloud_ice_in_air",
        "mass_fraction_of_stratiform_cloud_liquid_water_in_air",
        "northward_wind",
        "sea_water_salinity",
        "sea_water_temperature",
        "specific_humidity",
        "upward_air_velocity",
    }
)


def tendency_standard_name(standard_name: str | None) -> str | None:
    """``tendency_of_X`` for a first derivative in time of a field with standard name X, if in the table.

    Examples
    --------
    >>> tendency_standard_name("air_temperature"), tendency_standard_name("geopotential")
    ('tendency_of_air_temperature', None)
    """
    if standard_name in TENDENCY_OF:
        return f"tendency_of_{standard_name}"
    return None


def vector_standard_name(operation: str, components: Sequence[str | None], units: str | None) -> str | None:
    """The standard name of a divergence or curl of components with these standard names, if any.

    ``components`` are the standard names in the order of the components (the curl's sign
    depends on it); ``units`` are the result's, which must be per unit of time.

    Examples
    --------
    >>> vector_standard_name("curl", ["eastward_wind", "northward_wind"], "s-1")
    'atmosphere_upward_relative_vorticity'
    >>> vector_standard_name("curl", ["northward_wind", "eastward_wind"], "s-1") is None  # the opposite sign
    True
    >>> vector_standard_name("divergence", ["northward_wind", "eastward_wind"], "s-1")
    'divergence_of_wind'
    >>> vector_standard_name("divergence", ["eastward_wind", "northward_wind"], "m s-1 degrees_east-1") is None
    True
    """
    if units is None or len(components) != 2 or any(c is None for c in components):
        return None
    pair = (str(components[0]), str(components[1]))
    names = VECTOR_NAMES.get(pair)
    if names is None and operation == "divergence":  # a sum: the order of the terms does not matter
        names = VECTOR_NAMES.get(pair[::-1])
    if names is None or operation not in names or not same_dimension(units, _VECTOR_UNITS):
        return None
    return names[operation]


def advection_standard_name(standard_name: str | None, units: str | None, field_units: str | None) -> str | None:
    """``tendency_of_X_due_to_advection`` for the advection of a field with standard name X, if in the
    table, when ``units`` are the field's per unit of time.

    Examples
    --------
    >>> advection_standard_name("air_temperature", "K s-1", "K")
    'tendency_of_air_temperature_due_to_advection'
    >>> advection_standard_name("air_temperature", "K m-1", "K") is None  # a flow without time units
    True
    """
    if standard_name not in ADVECTED or units is None or field_units is None:
        return None
    if not same_dimension(units, divide_units(field_units, {"s": 1})):
        return None
    return f"tendency_of_{standard_name}_due_to_advection"
