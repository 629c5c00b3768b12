"""The Simplified Chinese translation is complete, valid and actually used.

Chinese is the default language of the users, so an English string reaching them is a bug: every
message in the catalogue must be translated (nothing untranslated, nothing fuzzy), the compiled .mo
that `make run` uses must match the .po, and every model, field and choice label of the project's
apps must come out in Chinese.
"""
import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.utils import translation

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LOCALE_DIR / "django.po"
MO = LOCALE_DIR / "django.mo"
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_LETTER = re.compile(r"[A-Za-z]")
# %(name)s / %s / %d and {name} / {} placeholders: a translation must keep the same ones.
PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|\{[^{}]*\}")


def _unquote(line):
    # A .po string literal: strip the quotes and resolve the C escapes gettext writes.
    body = line[line.index('"') + 1 : line.rindex('"')]
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body)


def parse_po(path):
    """Entries of a .po file as dicts: flags, msgctxt, msgid, msgid_plural, msgstr (list). No polib needed."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry = {"flags": set(), "msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": []}
        field = None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry["flags"].update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                if isinstance(entry[field], list):
                    entry[field][-1] += _unquote(line)
                else:
                    entry[field] += _unquote(line)
            else:
                keyword = line.split(" ", 1)[0]
                if keyword.startswith("msgstr"):
                    field = "msgstr"
                    entry["msgstr"].append(_unquote(line))
                else:
                    field = keyword
                    entry[field] = _unquote(line)
        if entry["msgid"] is not None:
            entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def po_entries():
    return parse_po(PO)


def _messages(entries):
    return [e for e in entries if e["msgid"] != ""]  # the empty msgid is the header


def test_catalogue_has_the_project_messages(po_entries):
    # Guards the other checks against passing on an empty or truncated file.
    msgids = {e["msgid"] for e in _messages(po_entries)}
    assert len(msgids) > 300
    assert {"family", "special assistance", "annual review", "home visit"} <= msgids


def test_every_message_is_translated_and_none_is_fuzzy(po_entries):
    header = next(e for e in po_entries if e["msgid"] == "")
    assert "fuzzy" not in header["flags"], "a fuzzy header is ignored by msgfmt (charset and plural forms are lost)"
    assert "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"][0]
    untranslated = [e["msgid"] for e in _messages(po_entries) if not e["msgstr"] or not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in _messages(po_entries) if "fuzzy" in e["flags"]]
    assert untranslated == [], f"untranslated: {untranslated}"
    assert fuzzy == [], f"fuzzy (check the suggestion, then remove the flag): {fuzzy}"


def test_translations_keep_the_placeholders(po_entries):
    wrong = []
    for e in _messages(po_entries):
        expected = sorted(PLACEHOLDER.findall(e["msgid_plural"] or e["msgid"]))
        for msgstr in e["msgstr"]:
            if sorted(PLACEHOLDER.findall(msgstr)) != expected:
                wrong.append((e["msgid"], msgstr))
    assert wrong == []


def test_translations_are_chinese(po_entries):
    # Catches a msgstr that merely copies the English (a lazy way to silence "untranslated").
    english = [e["msgid"] for e in _messages(po_entries) if ASCII_LETTER.search(PLACEHOLDER.sub("", e["msgid"])) and not any(
        CJK.search(s) for s in e["msgstr"]
    )]
    # Acronyms and product names that Chinese officialese keeps as they are.
    english = [m for m in english if m not in {"REST API"}]
    assert english == []


def test_msgfmt_accepts_the_catalogue():
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "gettext's msgfmt is needed to check the catalogue (apt-get install gettext)"
    result = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", "/dev/null", str(PO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
    assert re.search(r"\d+ translated messages?\.", result.stderr), result.stderr


def test_compiled_catalogue_matches_the_po(po_entries):
    """The committed .mo (what runs on machines without gettext) was compiled from this .po."""
    with MO.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)._catalog
    expected = {}
    for e in _messages(po_entries):
        key = e["msgid"] if e["msgctxt"] is None else f"{e['msgctxt']}\x04{e['msgid']}"
        if e["msgid_plural"] is None:
            expected[key] = e["msgstr"][0]
        else:
            for i, msgstr in enumerate(e["msgstr"]):
                expected[(key, i)] = msgstr
    compiled = {k: v for k, v in catalog.items() if k != ""}
    stale = sorted(str(k) for k in expected.keys() ^ compiled.keys()) + sorted(
        str(k) for k in expected.keys() & compiled.keys() if expected[k] != compiled[k]
    )
    assert stale == [], f"django.mo is out of date, run compilemessages -l zh_Hans: {stale[:20]}"


def _project_apps():
    # Every app that lives in this repository, so an app added later is covered without editing this list.
    base = Path(settings.BASE_DIR).resolve()
    found = [c for c in apps.get_app_configs() if base in Path(c.path).resolve().parents and ".venv" not in Path(c.path).parts]
    assert {"core", "families", "volunteers", "services"} <= {c.label for c in found}
    return found


def _labels():
    """(where, lazy text) for every model name, field name and choice label of the project apps."""
    for app_config in _project_apps():
        for model in app_config.get_models():
            name = model._meta.label
            yield f"{name} verbose_name", model._meta.verbose_name
            yield f"{name} verbose_name_plural", model._meta.verbose_name_plural
            for field in model._meta.fields + model._meta.many_to_many:
                if field.auto_created:
                    continue  # the implicit "ID" primary key
                yield f"{name}.{field.name} verbose_name", field.verbose_name
                for value, text in field.flatchoices or ():
                    if value not in ("", None):
                        yield f"{name}.{field.name} choice {value!r}", text


def test_models_fields_and_choices_are_translated():
    labels = list(_labels())
    assert len(labels) > 300  # every app above was found and has its models
    missing = []
    for where, text in labels:
        with translation.override("en"):
            english = str(text)
        with translation.override("zh-hans"):
            chinese = str(text)
        if ASCII_LETTER.search(english) and chinese == english:
            missing.append(f"{where}: {english!r}")
    assert missing == [], "not translated to zh-hans:\n" + "\n".join(missing)


def test_family_labels_in_chinese():
    from families.models import Category, Family

    with translation.override("zh-hans"):
        assert str(Family._meta.verbose_name) == "家庭"
        assert str(Category.BEREAVED.label).startswith("失独")
    with translation.override("en"):
        assert str(Family._meta.verbose_name) == "family"


@pytest.mark.django_db
def test_admin_login_page_follows_the_browser_language(client):
    chinese = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="zh-Hans,zh;q=0.9,en;q=0.5")
    assert chinese.status_code == 200
    page = chinese.content.decode()
    assert "登录" in page and "Log in" not in page
    assert CJK.search(page)

    english = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200
    page = english.content.decode()
    assert "Log in" in page and "登录" not in page


@pytest.mark.django_db
def test_chinese_is_the_default_language(client):
    # Users who send no Accept-Language (e.g. some in-app browsers) still get Chinese.
    page = client.get("/admin/login/").content.decode()
    assert "登录" in page
