"""Malformed files get clear errors and leave nothing behind (no import, record, version or file)."""

import io
import json
import zipfile

import pytest

from datahub.core.files import ImportFileError
from datahub.models import DatasetImport, DatasetRecord, DatasetVersion
from tests.datahub.datasets.factories import make_dataset, preview, run_import

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_tmp", "english")]


def _nothing_left(ds, media_tmp):
    assert not DatasetImport.objects.filter(dataset=ds).exists()
    assert not DatasetRecord.objects.filter(dataset=ds).exists()
    assert not DatasetVersion.objects.filter(dataset=ds).exists()
    assert not [p for p in media_tmp.rglob("*") if p.is_file()]


def _refused(ds, content, name, code, **kw) -> str:
    with pytest.raises(ImportFileError) as exc:
        preview(ds, content, name, **kw)
    assert exc.value.code == code
    return exc.value.message


def test_it_refuses_an_oversized_file_before_storing_it(settings, media_tmp):
    settings.DATAHUB_IMPORT_MAX_BYTES = 1000
    ds = make_dataset()
    msg = _refused(ds, b"id,name\n" + b"1,abcdefgh\n" * 200, "big.csv", "file_too_large")
    assert msg == "The file is too large: 2.2 KB; the limit is 1000 bytes."
    _nothing_left(ds, media_tmp)


def test_it_refuses_a_zip_bomb_disguised_as_xlsx(settings, media_tmp):
    settings.DATAHUB_XLSX_MAX_UNCOMPRESSED_BYTES = 20 * 1024 * 1024
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(40):  # 40 MB of zeros deflate to ~40 KB
                member.write(chunk)
    ds = make_dataset()
    msg = _refused(ds, buf.getvalue(), "report.xlsx", "zip_bomb")
    assert "zip bomb" in msg and "inflate to 42 MB" in msg
    _nothing_left(ds, media_tmp)


def test_it_refuses_a_truncated_xlsx(media_tmp):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["a", "b"])
    buf = io.BytesIO()
    wb.save(buf)
    ds = make_dataset()
    msg = _refused(ds, buf.getvalue()[: len(buf.getvalue()) // 2], "cut.xlsx", "bad_xlsx")
    assert "damaged or truncated" in msg
    _nothing_left(ds, media_tmp)


def test_it_refuses_a_truncated_json_file_naming_the_position(media_tmp):
    text = json.dumps([{"id": i, "name": f"n{i}"} for i in range(50)])
    ds = make_dataset()
    msg = _refused(ds, text[:300].encode(), "cut.json", "malformed_json")
    assert msg.startswith("Invalid JSON at line 1, column ") and "truncated" in msg
    _nothing_left(ds, media_tmp)


def test_it_refuses_a_csv_cut_inside_a_quoted_value(media_tmp):
    ds = make_dataset()
    msg = _refused(ds, b'id,comment\n1,"fine"\n2,"this quote never clo', "cut.csv", "malformed_csv")
    assert "Line 3" in msg and "truncated" in msg
    _nothing_left(ds, media_tmp)


def test_it_reports_a_csv_cut_mid_row_as_missing_values_and_imports_nothing(media_tmp):
    ds = make_dataset()
    imp = run_import(
        ds,
        b"id,name,amount\n1,a,5\n2,b,6\n3,",
        schema=[
            {"name": "id", "type": "integer", "is_primary_key": True},
            {"name": "name", "type": "string", "required": True},
            {"name": "amount", "type": "integer", "required": True},
        ],
    )
    assert imp.status == DatasetImport.Status.FAILED
    assert [(e["row"], e["column"]) for e in imp.errors] == [(4, "name"), (4, "amount")]
    assert not DatasetRecord.objects.filter(dataset=ds).exists()
    assert not DatasetVersion.objects.filter(dataset=ds).exists()


def test_it_refuses_a_file_that_is_not_valid_in_the_chosen_encoding(media_tmp):
    ds = make_dataset()
    msg = _refused(ds, "id,city\n1,Montréal\n".encode("latin-1"), "x.csv", "bad_encoding", encoding="utf-8")
    assert msg.startswith("The file is not valid utf-8: byte 0xe9 on line 2")
    _nothing_left(ds, media_tmp)


def test_it_refuses_binary_content_named_csv(media_tmp):
    ds = make_dataset()
    msg = _refused(ds, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "photo.csv", "bad_encoding")
    assert "binary" in msg
    _nothing_left(ds, media_tmp)


def test_it_refuses_utf8_cut_in_the_middle_of_a_character(media_tmp):
    ds = make_dataset()
    msg = _refused(ds, "名称,地址\n咖啡,滨江区".encode()[:-1], "cut.csv", "truncated_file")
    assert "truncated" in msg
    _nothing_left(ds, media_tmp)


def test_it_detects_gb18030_chinese_text(media_tmp):
    ds = make_dataset()
    imp = preview(
        ds, "编号,名称,地址\n1,星巴克咖啡,滨江区江南大道\n2,瑞幸咖啡,西湖区文三路\n".encode("gb18030"), "gb.csv"
    )
    assert imp.encoding == "gb18030"
    assert imp.preview["rows"][1]["名称"] == "瑞幸咖啡"


def test_it_refuses_json_that_is_not_an_array_of_objects(media_tmp):
    ds = make_dataset()
    msg = _refused(ds, b'{"a": 1, "b": 2}', "x.json", "bad_json")
    assert msg == "A JSON file must be an array of objects."
    _nothing_left(ds, media_tmp)


def test_it_strips_a_utf8_byte_order_mark_from_the_first_column(media_tmp):
    imp = preview(make_dataset(), "\ufeffid,名称\n1,咖啡\n".encode(), "bom.csv")
    assert imp.encoding == "utf-8-sig"
    assert [f["name"] for f in imp.schema] == ["id", "名称"]
