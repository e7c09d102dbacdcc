"""`{% leaflet_scripts %}`: Leaflet (served locally) plus the base layer and legend every map gets."""

from django import template
from django.templatetags.static import static
from django.utils.html import format_html, json_script
from django.utils.translation import gettext as _

from cityos.maps import map_config

register = template.Library()


@register.simple_tag
def leaflet_scripts():
    config = {
        **map_config(),
        "labels": {
            "legend": _("Legend"),
            "district": _("District boundary"),
            "street": _("Street boundary"),
            "road": _("Road"),
            "facility": _("Facility"),
            "park": _("Park"),
            "tiles": _("Base map tiles"),
        },
    }
    return format_html(
        '<script src="{}"></script>{}<script src="{}"></script>',
        static("vendor/leaflet/leaflet.js"),
        json_script(config, "cityos-map-config"),
        static("cityos/basemap.js"),
    )
