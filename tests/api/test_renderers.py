"""casemgmt.api.renderers: a value that is JSON already goes out as it is, and the answer is what
DRF's own renderer writes of the parsed value."""
import json

from rest_framework.renderers import JSONRenderer as DRFRenderer

from casemgmt.api.renderers import JSONRenderer, RawJSON

CARDS = [{"id": 1, "name": "王秀英", "notes": "line\u2028break \"quoted\" \\ back", "members": []}, {"id": 2, "x": None}]


def _raw(value):
    return RawJSON(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def test_raw_values_go_out_as_drf_writes_the_parsed_value():
    envelope = {"next": "http://testserver/api/v1/families/?cursor=eyJr%00&q=%E7%8E%8B", "previous": None}
    rendered = JSONRenderer().render({**envelope, "results": _raw(CARDS)})
    assert rendered == DRFRenderer().render({**envelope, "results": CARDS})
    assert b"\\u2028" in rendered and "王秀英".encode() in rendered
    assert JSONRenderer().render({"results": RawJSON("[]"), "count": 0}) == b'{"results":[],"count":0}'


def test_an_indented_answer_is_written_by_drf_whole():
    context = {"indent": 2}
    data = {"next": None, "results": _raw(CARDS)}
    assert JSONRenderer().render(data, "application/json; indent=2", context) == DRFRenderer().render(
        {"next": None, "results": CARDS}, "application/json; indent=2", context)


def test_anything_else_is_drfs_answer():
    for data in ({"a": 1}, [1, 2], None, {"results": "[1]"}):
        assert JSONRenderer().render(data) == DRFRenderer().render(data)
