import json

from django.core.management.base import BaseCommand, CommandError

from datahub.core.services.areas import AreaImportError, AreaMapping, area_import_geojson


class Command(BaseCommand):
    help = (
        "Import administrative areas from a GeoJSON file (upsert by code, all or nothing). "
        'Example: import_areas nyc_neighborhoods.geojson --code-prop "{borough}/{neighborhood}" '
        "--name-prop neighborhood --level community --parent-code-prop borough --code-prefix nyc- --parent-code-prefix nyc-"
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--code-prop", required=True, help='property with the code, or a template like "{a}-{b}"')
        parser.add_argument("--name-prop", required=True)
        parser.add_argument("--name-en-prop")
        parser.add_argument("--level", help="fixed level for every feature (city, district, street, grid…)")
        parser.add_argument("--level-prop", help="property holding the level")
        parser.add_argument("--level-map", help='JSON mapping of level values, e.g. {"borough": "district"}')
        parser.add_argument("--parent-code-prop", help="property (or template) with the parent's code")
        parser.add_argument("--parent-code", help="fixed parent code for every feature")
        parser.add_argument("--code-prefix", default="")
        parser.add_argument("--parent-code-prefix", default="")
        parser.add_argument("--population-prop")
        parser.add_argument(
            "--gcj02", action="store_true", help="coordinates are GCJ-02 (AMap/Tencent): convert to WGS84"
        )

    def handle(self, *args, **o):
        try:
            level_map = json.loads(o["level_map"]) if o["level_map"] else {}
        except json.JSONDecodeError as exc:
            raise CommandError(f"--level-map is not JSON: {exc}") from exc
        mapping = AreaMapping(
            code_prop=o["code_prop"],
            name_prop=o["name_prop"],
            name_en_prop=o["name_en_prop"],
            level=o["level"],
            level_prop=o["level_prop"],
            level_map=level_map,
            parent_code_prop=o["parent_code_prop"],
            parent_code=o["parent_code"],
            code_prefix=o["code_prefix"],
            parent_code_prefix=o["parent_code_prefix"],
            population_prop=o["population_prop"],
            gcj02=o["gcj02"],
        )
        try:
            result = area_import_geojson(path=o["path"], mapping=mapping)
        except AreaImportError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{len(result.codes)} areas: {result.created} created, {result.updated} updated "
            f"(source CRS EPSG:{result.source_srid})"
        )
