"""import_regions_csv: townships and villages from a statistical-code CSV, all or nothing."""
import pytest
from django.core.management import CommandError, call_command

from casemgmt.core.models import Region
from casemgmt.core.regions import RegionImportError, regions_import_csv, regions_load_divisions

pytestmark = pytest.mark.django_db

GOOD_ZH = """统计用区划代码,城乡分类代码,名称
350623100000,,绥安镇
350623100001,111,城内社区
350623100201,220,东门村
350623101000,,旧镇镇
350623101202,210,港头村
"""


@pytest.fixture
def zhangpu():
    regions_load_divisions(data={"350000": "福建省", "350600": "漳州市", "350623": "漳浦县"})
    return Region.objects.get(code="350623000000")


def write(tmp_path, text, name="regions.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_imports_townships_and_villages_with_chinese_header(tmp_path, zhangpu):
    call_command("import_regions_csv", write(tmp_path, GOOD_ZH), verbosity=0)
    town = Region.objects.get(code="350623100000")
    assert (town.level, town.parent, town.path) == (Region.Level.TOWNSHIP, zhangpu, "350623100")
    assert town.full_name == "福建省漳州市漳浦县绥安镇"
    village = Region.objects.get(code="350623100201")
    assert (village.level, village.parent, village.path) == (Region.Level.VILLAGE, town, "350623100201")
    assert village.urban_rural_code == "220"
    assert village.full_name == "福建省漳州市漳浦县绥安镇东门村" and village.is_rural
    assert Region.objects.get(code="350623100001").urban_rural_code == "111"
    assert Region.objects.filter(path__startswith="350623").count() == 6


def test_english_header_any_order_headerless_and_gb18030(tmp_path, zhangpu):
    english = "name,code,urban_rural_code\n绥安镇,350623100000,\n东门村,350623100201,220\n"
    call_command("import_regions_csv", write(tmp_path, english), verbosity=0)
    headerless = "350623100201,东门村新,220\n350623100202,西门村,210\n"
    call_command("import_regions_csv", write(tmp_path, headerless, "gbk.csv", "gb18030"), verbosity=0)
    assert Region.objects.get(code="350623100201").name == "东门村新"
    assert Region.objects.get(code="350623100202").urban_rural_code == "210"


def test_rerun_is_idempotent(tmp_path, zhangpu):
    path = write(tmp_path, GOOD_ZH)
    call_command("import_regions_csv", path, verbosity=0)
    before = list(Region.objects.values_list("id", "code", "name", "parent_id", "path").order_by("code"))
    with open(path, "rb") as handle:
        stats = regions_import_csv(file=handle)
    assert (stats.created, stats.updated, stats.unchanged) == (0, 0, 5)
    assert list(Region.objects.values_list("id", "code", "name", "parent_id", "path").order_by("code")) == before


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_written(tmp_path, zhangpu, capsys):
    bad = (
        "code,name,urban_rural_code\n"
        "350623100000,绥安镇,\n"         # line 2: fine
        "35062310020,短码村,220\n"       # line 3: 11 digits
        "350623199201,孤儿村,220\n"      # line 4: township 350623199 missing
        "350623100201,东门村,999\n"      # line 5: bad urban-rural code
        "350699100000,无县镇,\n"         # line 6: county 350699 missing
    )
    total = Region.objects.count()
    with pytest.raises(CommandError, match="4 row"):
        call_command("import_regions_csv", write(tmp_path, bad), verbosity=0)
    err = capsys.readouterr().err
    for line in (3, 4, 5, 6):
        assert f"regions.csv:{line}:" in err
    assert "regions.csv:2:" not in err
    assert Region.objects.count() == total
    with pytest.raises(RegionImportError) as info:
        with open(write(tmp_path, bad), "rb") as handle:
            regions_import_csv(file=handle)
    assert [line for line, _ in info.value.errors] == [3, 4, 5, 6]
