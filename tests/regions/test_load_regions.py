"""load_regions: real GB/T 2260 data, municipalities, 省直辖县级 counties, reruns and retired codes."""
import pytest
from django.core.management import call_command
from django.db import connection

from casemgmt.core.models import Region
from casemgmt.core.regions import regions_load_divisions

pytestmark = pytest.mark.django_db


def test_loads_zhangzhou_with_its_counties():
    call_command("load_regions", verbosity=0)
    zhangzhou = Region.objects.get(code="350600000000")
    assert (zhangzhou.name, zhangzhou.level, zhangzhou.path) == ("漳州市", Region.Level.CITY, "3506")
    assert zhangzhou.parent.code == "350000000000" and zhangzhou.full_name == "福建省漳州市"
    counties = Region.objects.filter(parent=zhangzhou)
    assert counties.count() == 11
    assert set(counties.values_list("level", flat=True)) == {Region.Level.COUNTY}
    zhangpu = counties.get(code="350623000000")
    assert (zhangpu.name, zhangpu.path, zhangpu.full_name) == ("漳浦县", "350623", "福建省漳州市漳浦县")
    assert Region.objects.filter(level=Region.Level.PROVINCE).count() == 34


def test_municipality_districts_hang_under_the_province():
    call_command("load_regions", verbosity=0)
    dongcheng = Region.objects.select_related("parent").get(code="110101000000")
    assert dongcheng.level == Region.Level.COUNTY
    assert dongcheng.parent.code == "110000000000"
    assert dongcheng.full_name == "北京市东城区"
    assert not Region.objects.filter(code="110100000000").exists()


def test_province_administered_county_takes_the_nearest_ancestor():
    call_command("load_regions", verbosity=0)
    xiantao = Region.objects.select_related("parent").get(code="429004000000")
    assert xiantao.level == Region.Level.COUNTY and xiantao.name == "仙桃市"
    assert xiantao.parent.code == "420000000000"
    assert xiantao.full_name == "湖北省仙桃市"


def test_rerun_is_idempotent_and_updates_names():
    call_command("load_regions", verbosity=0)
    total = Region.objects.count()
    Region.objects.filter(code="350623000000").update(name="旧名")
    stats = regions_load_divisions()
    assert Region.objects.count() == total
    assert (stats.created, stats.updated, stats.deactivated) == (0, 1, 0)
    assert Region.objects.get(code="350623000000").name == "漳浦县"


def test_codes_that_disappear_are_deactivated_not_deleted():
    data = {"350000": "福建省", "350600": "漳州市", "350623": "漳浦县", "350699": "撤销县"}
    regions_load_divisions(data=data)
    assert Region.objects.get(code="350699000000").is_active
    del data["350699"]
    stats = regions_load_divisions(data=data)
    assert stats.deactivated == 1
    retired = Region.objects.get(code="350699000000")
    assert retired.is_active is False
    # Brought back by a later revision: active again.
    data["350699"] = "复设县"
    regions_load_divisions(data=data)
    retired.refresh_from_db()
    assert retired.is_active and retired.name == "复设县"


def test_subtree_is_one_indexed_prefix_query(django_assert_num_queries):
    call_command("load_regions", verbosity=0)
    with django_assert_num_queries(1):
        codes = list(Region.objects.filter(path__startswith="3506").values_list("code", flat=True))
    assert len(codes) == 12 and "350600000000" in codes
    sql, params = Region.objects.filter(path__startswith="3506").values("code").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "region_path_prefix" in plan, plan
