"""Which PostgreSQL ``make run`` and ``make test`` use (casemgmt.devdb): the one DATABASE_URL names,
else for the tests the local server when it answers, else the private server under VAR_DIR."""
import environ
import pytest
from django.db import connection

from casemgmt import devdb
from tests.test_quickstart import free_port

GIVEN = "postgres://app:secret@db.example.org:5432/casemgmt"


def asked(answer):
    """A stand-in for ``reachable`` that answers ``answer`` and notes what it was asked."""
    def is_reachable(url):
        is_reachable.urls.append(url)
        return answer

    is_reachable.urls = []
    return is_reachable


@pytest.mark.parametrize("mode", ["run", "test"])
def test_a_given_database_url_is_used_as_it_is(mode):
    probe = asked(False)
    assert devdb.choose(mode, {"DATABASE_URL": GIVEN}, probe) == ("given", GIVEN)
    assert probe.urls == []


def test_the_tests_use_the_local_server_when_it_answers():
    probe = asked(True)
    assert devdb.choose("test", {}, probe) == ("local", devdb.LOCAL_URL)
    assert probe.urls == [devdb.LOCAL_URL]


def test_the_tests_use_the_private_server_when_no_local_one_answers():
    assert devdb.choose("test", {"DATABASE_URL": ""}, asked(False)) == ("embedded", None)


def test_make_run_keeps_to_its_private_server_even_beside_a_local_one():
    probe = asked(True)
    assert devdb.choose("run", {}, probe) == ("embedded", None)
    assert probe.urls == []


@pytest.mark.django_db
def test_reachable_asks_the_server_itself():
    assert devdb.reachable(devdb.url_of(connection.settings_dict, "no_such_database"))
    assert not devdb.reachable(f"postgres://postgres@127.0.0.1:{free_port()}/casemgmt", timeout=1)


def test_a_url_of_the_settings_reads_back_as_the_settings():
    for settings_dict in ({"HOST": "/srv/var dir/postgres", "PORT": "", "USER": "postgres", "PASSWORD": "", "NAME": "a"},
                          {"HOST": "127.0.0.1", "PORT": 5433, "USER": "app", "PASSWORD": "p@ss/w", "NAME": "b"}):
        config = environ.Env.db_url_config(devdb.url_of(settings_dict))
        assert {key: config[key] for key in settings_dict} == settings_dict


def test_the_settings_default_is_the_private_servers_socket(tmp_path):
    config = environ.Env.db_url_config(devdb.default_url(tmp_path / "var dir"))
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["NAME"], config["USER"]) == (str(tmp_path / "var dir" / "postgres"), "casemgmt",
                                                                 "postgres")


def test_an_unreachable_database_url_is_a_clear_error(monkeypatch):
    port = free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:s3cret@127.0.0.1:{port}/casemgmt")
    with pytest.raises(SystemExit) as stopped:
        devdb.main(["test", "--", "true"])
    shown = f"postgres://app:***@127.0.0.1:{port}/casemgmt"
    assert str(stopped.value) == f"No PostgreSQL answers at DATABASE_URL={shown} (see README)."
